/**
 * The example app as `cdk synth` builds it (the context of cdk.json, real esbuild bundles, cdk-nag's
 * AwsSolutions checks): no unacknowledged finding, the outputs, the producer's narrow grants, and a
 * worker bundle that loads as one self-contained CommonJS file.
 */

import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp, type SpoolExampleStack } from '../../infra/app.js';
import { checkWithCdkNag } from '../../infra/nag.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

/** The report cdk-nag's findings go to (CDK policy validation). */
interface ValidationReport {
  readonly pluginReports: { readonly pluginName: string; readonly violations?: unknown[] }[];
}

describe('GIVEN the example app with the context of cdk.json', () => {
  let app: App;
  let stack: SpoolExampleStack;
  let assembly: CloudAssembly;
  let template: Template;

  beforeAll(() => {
    const built = buildExampleApp({ context: cdkJson.context });
    app = built.app;
    stack = built.stack;
    // Throws (in tests) when a validation plugin reports an unacknowledged error.
    assembly = built.app.synth();
    template = Template.fromStack(stack);
  }, 120_000);

  it('THEN cdk.json runs this app with the local tsx (never fetched), spool-tasks resolving to the sources', () => {
    expect(cdkJson.app).toBe('node --import tsx --conditions=spool-source infra/app.ts');
  });

  it('WHEN synthesized with cdk-nag THEN no finding is left unacknowledged', () => {
    const report = JSON.parse(
      readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it("THEN the acknowledged findings are the X-Ray wildcards of the worker and HTTP API roles, the worker's blobs, the blob bucket's access logs, grantEnqueue's delay.* timers (the producer's) and argument blobs and grantReadResults' result and error blobs of the producer and HTTP API roles, with their reasons", () => {
    const acknowledged = app.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .map((m) => ({ path: c.node.path, rules: m.data as unknown })),
      );
    const xray = {
      'AwsSolutions::AwsSolutions-IAM5[Resource::*]': expect.stringMatching(/^X-Ray active tracing: .{100,}/),
    };
    const group = stack.getLogicalId(stack.tasks.scheduling.group);
    const delayedRuns = {
      [`AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<${group}>/delay.*]`]:
        expect.stringMatching(/^Delayed runs: .*delay\.<task id>.*delay\.\* in that one group/),
    };
    const bucket = stack.getLogicalId(stack.tasks.bucket.node.defaultChild as CfnElement);
    const blobs = (pattern: string, reason: RegExp) => ({
      [`AwsSolutions::AwsSolutions-IAM5[Resource::<${bucket}.Arn>/${pattern}]`]: expect.stringMatching(reason),
    });
    const argumentBlobs = blobs('blobs/*d/args/*', /^The claim-check: arguments too large for an SQS message/);
    const resultBlobs = blobs('blobs/*d/result/*', /^The claim-check: a result too large/);
    const errorBlobs = blobs('blobs/*d/error/*', /^The claim-check: an error message too large/);
    expect(acknowledged).toEqual([
      {
        path: 'SpoolExampleStack/Tasks/Blobs',
        rules: {
          'AwsSolutions::AwsSolutions-S1': expect.stringMatching(
            /^The blob bucket holds transient claim-check payloads/,
          ),
        },
      },
      { path: 'SpoolExampleStack/Tasks/WorkerRole', rules: xray },
      {
        path: 'SpoolExampleStack/Tasks/WorkerRole',
        rules: blobs('blobs/*', /^The claim-check: the worker reads and writes blobs/),
      },
      { path: 'SpoolExampleStack/ProducerRole', rules: argumentBlobs },
      { path: 'SpoolExampleStack/ProducerRole', rules: delayedRuns },
      { path: 'SpoolExampleStack/ProducerRole', rules: resultBlobs },
      { path: 'SpoolExampleStack/ProducerRole', rules: errorBlobs },
      { path: 'SpoolExampleStack/HttpApi/Role', rules: xray },
      { path: 'SpoolExampleStack/HttpApi/Role', rules: argumentBlobs },
      { path: 'SpoolExampleStack/HttpApi/Role', rules: resultBlobs },
      { path: 'SpoolExampleStack/HttpApi/Role', rules: errorBlobs },
    ]);
  });

  it('WHEN synthesized THEN the stack has no error or warning annotation', () => {
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  it('THEN the stack is environment-agnostic (synthesis needs no AWS account or lookups)', () => {
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(assembly.manifest.missing ?? []).toEqual([]); // no context lookups to resolve against AWS
  });

  it('THEN it outputs the queue URLs, the table, both functions, the schedule group, the Scheduler role, the dashboard and the HTTP API URL', () => {
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual([
      'BucketName',
      'DashboardName',
      'DeadLetterQueueUrl',
      'HttpApiUrl',
      'ProducerFunctionName',
      'QueueUrl',
      'ScheduleGroup',
      'SchedulerRoleArn',
      'TableName',
      'WorkerFunctionName',
    ]);
    template.hasOutput('ProducerFunctionName', {
      Value: { Ref: stack.getLogicalId(stack.producer.node.defaultChild as CfnElement) },
    });
    // SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN, for `spool schedules` and producers elsewhere.
    template.hasOutput('ScheduleGroup', { Value: { Ref: stack.getLogicalId(stack.tasks.scheduling.group) } });
    template.hasOutput('SchedulerRoleArn', {
      Value: {
        'Fn::GetAtt': [stack.getLogicalId(stack.tasks.scheduling.role.node.defaultChild as CfnElement), 'Arn'],
      },
    });
  });

  it('THEN the producer runs on arm64 with the SPOOL_* environment and only enqueue and read-result grants', () => {
    const producerId = stack.getLogicalId(stack.producer.node.defaultChild as CfnElement);
    const fn = template.toJSON().Resources[producerId].Properties;
    expect(fn.Architectures).toEqual(['arm64']);
    expect(Object.keys(fn.Environment.Variables).sort()).toEqual([
      'NODE_OPTIONS',
      'SPOOL_BUCKET',
      'SPOOL_DLQ_URL',
      'SPOOL_QUEUE_URL',
      'SPOOL_SCHEDULER_ROLE_ARN',
      'SPOOL_SCHEDULE_GROUP',
      'SPOOL_TABLE',
    ]);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes('ProducerRole'),
    );
    const actions = policies.flatMap((p) =>
      p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => s.Action),
    );
    expect(actions.sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem', // grantEnqueue: a unique lock holder's state (pk, state, expiresAt) only
      'dynamodb:GetItem', // grantReadResults: the whole record
      'dynamodb:PutItem',
      'iam:PassRole',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:PutObject',
      'scheduler:CreateSchedule',
      'sqs:SendMessage',
    ]);
  });

  describe('WHEN the worker bundle is loaded outside the project', () => {
    let dir: string;
    beforeAll(() => {
      // The function's S3 key is `<asset hash>.zip`; the bundle is in the assembly's `asset.<hash>`.
      const workerId = stack.getLogicalId(stack.tasks.worker.node.defaultChild as CfnElement);
      const s3Key = template.toJSON().Resources[workerId].Properties.Code.S3Key as string;
      const code = `asset.${s3Key.replace(/\.zip$/, '')}`;
      dir = mkdtempSync(join(tmpdir(), 'spool-bundle-'));
      for (const file of readdirSync(join(assembly.directory, code))) {
        copyFileSync(join(assembly.directory, code, file), join(dir, file));
      }
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('THEN it is one CommonJS file with a source map, the AWS SDK inside, exporting handler', () => {
      expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map']);
      // No node_modules above the temp dir: a require() of anything left external would fail.
      const worker = createRequire(join(dir, 'index.js'))('./index.js') as { handler?: unknown };
      expect(typeof worker.handler).toBe('function');
      const source = readFileSync(join(dir, 'index.js'), 'utf8');
      expect(source).toContain('SendMessageBatch');
      expect(source.startsWith('"use strict";')).toBe(true); // the banner keeps the bundle strict
      expect(source).not.toContain('import.meta');
    });
  });
});

describe('GIVEN an app with cdk-nag and a resource that breaks its rules', () => {
  it('WHEN synthesized THEN synthesis fails naming the findings (so `cdk synth` exits non-zero)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    checkWithCdkNag(app);
    expect(() => app.synth()).toThrow(
      /AwsSolutions-SQS2[\s\S]*AwsSolutions-SQS3|AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS2/,
    );
  });
});
