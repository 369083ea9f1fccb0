/**
 * The TaskQueueHttpApi construct: a function URL with IAM auth, a function holding exactly the
 * enqueue and read-result grants, grantInvokeUrl, and its place in the example stack (output,
 * cdk-nag). Code is inline, or bundling is skipped (app.test.ts bundles for real).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { TaskQueue, TaskQueueHttpApi, type TaskQueueHttpApiProps, TaskQueueHttpApiPropsError } from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';
import { SpoolExampleStack } from '../../infra/app.js';
import { acknowledgeExampleFindings, checkWithCdkNag } from '../../infra/nag.js';
import { sorted, statementsOf } from './iam.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" });');

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

function setup(props: Partial<TaskQueueHttpApiProps> = {}, key?: (stack: Stack) => kms.IKey) {
  const stack = new Stack(new App(), 'Test');
  const encryptionKey = key?.(stack);
  const tasks = new TaskQueue(stack, 'Tasks', {
    workerCode: INLINE,
    ...(encryptionKey === undefined ? {} : { encryptionKey }),
  });
  const api = new TaskQueueHttpApi(stack, 'Api', { taskQueue: tasks, code: INLINE, ...props });
  const id = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [id(construct), 'Arn'] });
  /** The ARN of the blob bucket's objects matching `pattern`. */
  const objects = (pattern: string) => ({ 'Fn::Join': ['', [arn(tasks.bucket), `/${pattern}`]] });
  return { stack, tasks, api, id, arn, objects, table: tasks.node.findChild('Table'), encryptionKey };
}

/** A policy statement, normalized: actions and resources as sorted arrays. */

const leadingKeys = (prefix: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [prefix] } });

describe('GIVEN a TaskQueueHttpApi with default props', () => {
  const { stack, tasks, api, id, arn, objects, table } = setup();
  const template = Template.fromStack(stack);

  it('THEN the function URL uses IAM auth, buffered, on the function', () => {
    const urls = template.findResources('AWS::Lambda::Url');
    expect(Object.values(urls).map((u) => u.Properties)).toEqual([
      { AuthType: 'AWS_IAM', InvokeMode: 'BUFFERED', TargetFunctionArn: arn(api.function) },
    ]);
    expect(stack.resolve(api.url)).toEqual({ 'Fn::GetAtt': [id(api.functionUrl), 'FunctionUrl'] });
  });

  it('THEN no resource policy lets anyone invoke the function or its URL', () => {
    expect(template.findResources('AWS::Lambda::Permission')).toEqual({});
  });

  it('THEN the function runs on Node.js 24, arm64, with X-Ray, reserved concurrency 10, its own log group and role, bound to the queue', () => {
    const fn = template.toJSON().Resources[id(api.function)].Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 10,
      ReservedConcurrentExecutions: 10,
      TracingConfig: { Mode: 'Active' },
      Role: arn(api.role),
      LoggingConfig: { LogGroup: { Ref: id(api.logGroup) } },
    });
    expect(fn.Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      SPOOL_QUEUE_URL: { Ref: id(tasks.queue) },
      SPOOL_DLQ_URL: { Ref: id(tasks.deadLetterQueue) },
      SPOOL_TABLE: { Ref: id(table) },
      SPOOL_BUCKET: { Ref: id(tasks.bucket) },
      SPOOL_SCHEDULE_GROUP: { Ref: stack.getLogicalId(tasks.scheduling.group) },
      SPOOL_SCHEDULER_ROLE_ARN: arn(tasks.scheduling.role),
    });
    expect(template.toJSON().Resources[id(api.logGroup)].Properties).toEqual({ RetentionInDays: 30 });
  });

  it('THEN no statement of its role names the Scheduler or iam:PassRole', () => {
    const actions = statementsOf(stack, api.role).flatMap((s) => s.actions);
    expect(actions.filter((a) => a.startsWith('scheduler:') || a === 'iam:PassRole')).toEqual([]);
  });

  it("THEN the function's role has no managed policy and exactly logs, X-Ray, grantEnqueue without delays and grantReadResults", () => {
    expect(template.toJSON().Resources[id(api.role)].Properties.ManagedPolicyArns).toBeUndefined();
    expect(statementsOf(stack, api.role)).toEqual(
      sorted([
        { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [arn(api.logGroup)] },
        { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] },
        // grantEnqueue: send to the task queue (not the dead-letter queue), unique locks.
        { actions: ['sqs:SendMessage'], resources: [arn(tasks.queue)] },
        // grantEnqueue with delays: false: no Scheduler permission and no iam:PassRole (the routes never delay).
        {
          actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
          resources: [arn(table)],
          condition: leadingKeys('lock#unique#*'),
        },
        // grantEnqueue: a lock holder's record, only the attributes the unique-lock check reads.
        {
          actions: ['dynamodb:GetItem'],
          resources: [arn(table)],
          condition: {
            ...leadingKeys('task#*'),
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'state', 'expiresAt'] },
            StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
          },
        },
        // grantReadResults: GetItem on task records only.
        { actions: ['dynamodb:GetItem'], resources: [arn(table)], condition: leadingKeys('task#*') },
        // The claim-check: grantEnqueue writes argument blobs, grantReadResults reads result and error-message blobs.
        { actions: ['s3:PutObject'], resources: [objects('blobs/*d/args/*')] },
        { actions: ['s3:GetObject'], resources: [objects('blobs/*d/error/*'), objects('blobs/*d/result/*')] },
      ]),
    );
  });

  it('WHEN a role of the account is granted grantInvokeUrl THEN it may invoke the URL with IAM auth, and the function only through it', () => {
    const { stack, api, arn } = setup();
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    api.grantInvokeUrl(caller);
    expect(statementsOf(stack, caller)).toEqual(
      sorted([
        {
          actions: ['lambda:InvokeFunctionUrl'],
          resources: [arn(api.function)],
          condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        },
        {
          actions: ['lambda:InvokeFunction'],
          resources: [arn(api.function)],
          condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
        },
      ]),
    );
    // Same account: an identity policy, no resource policy.
    expect(Template.fromStack(stack).findResources('AWS::Lambda::Permission')).toEqual({});
  });
});

describe('GIVEN a TaskQueueHttpApi and a caller in another account', () => {
  it('WHEN granted grantInvokeUrl THEN the function gets resource policy statements for that account, IAM auth only', () => {
    const { stack, api, arn } = setup();
    api.grantInvokeUrl(new iam.AccountPrincipal('111122223333'));
    const permissions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Permission')).map(
      (p) => p.Properties,
    );
    expect(permissions).toEqual(
      expect.arrayContaining([
        {
          Action: 'lambda:InvokeFunctionUrl',
          FunctionName: arn(api.function),
          FunctionUrlAuthType: 'AWS_IAM',
          Principal: '111122223333',
        },
        expect.objectContaining({ Action: 'lambda:InvokeFunction', Principal: '111122223333' }),
      ]),
    );
    expect(permissions).toHaveLength(2);
  });
});

describe('GIVEN a TaskQueueHttpApi on a task queue with a customer managed key', () => {
  it("THEN the function's role may also use the key (for sends, lock writes and reads), and nothing more", () => {
    const { stack, api, id } = setup({}, (s) => new kms.Key(s, 'Key', { enableKeyRotation: true }));
    const keyArn = { 'Fn::GetAtt': [id(stack.node.findChild('Key')), 'Arn'] };
    const kmsStatements = statementsOf(stack, api.role).filter((s) => s.actions.some((a) => a.startsWith('kms:')));
    expect(kmsStatements.flatMap((s) => s.resources)).toEqual(kmsStatements.map(() => keyArn));
    expect([...new Set(kmsStatements.flatMap((s) => s.actions))].sort()).toEqual([
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    ]);
  });
});

describe('GIVEN TaskQueueHttpApi props', () => {
  it('WHEN runtime, memory, timeout and reserved concurrency are set THEN the function uses them', () => {
    const { stack, api, id } = setup({
      runtime: lambda.Runtime.NODEJS_22_X,
      memorySizeMiB: 512,
      timeout: Duration.seconds(20),
      reservedConcurrency: 3,
    });
    expect(Template.fromStack(stack).toJSON().Resources[id(api.function)].Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      MemorySize: 512,
      Timeout: 20,
      ReservedConcurrentExecutions: 3,
    });
  });

  it('WHEN they break the rules THEN construction fails listing each problem and how to fix it', () => {
    let error: unknown;
    try {
      setup({
        runtime: lambda.Runtime.NODEJS_20_X,
        memorySizeMiB: 64,
        timeout: Duration.minutes(20),
        reservedConcurrency: 0,
        entry: 'functions/http.ts',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskQueueHttpApiPropsError);
    const problems = (error as TaskQueueHttpApiPropsError).problems;
    expect(problems).toEqual([
      expect.stringMatching(/^runtime is nodejs20\.x: .*Node\.js 22 or newer\. Allowed: .*nodejs24\.x/),
      expect.stringMatching(/^memorySizeMiB is 64: .*128 to 10240/),
      expect.stringMatching(/^timeout is 20 minutes: .*1 second to 15 minutes/),
      expect.stringMatching(/^reservedConcurrency is 0: it must be a whole number, at least 1 .*leave it out for 10/),
      expect.stringMatching(/^both entry and code are set/),
    ]);
  });

  it.each([-1, 2.5, Number.NaN])('WHEN reservedConcurrency is %s THEN construction fails naming it', (value) => {
    expect(() => setup({ reservedConcurrency: value })).toThrow(
      new RegExp(`reservedConcurrency is ${String(value)}: it must be a whole number, at least 1`),
    );
  });
});

describe('GIVEN the example stack', () => {
  /** The example app as `cdk synth` builds it, without running esbuild (bundling skipped). */
  const build = (httpApi?: boolean) => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new SpoolExampleStack(app, 'SpoolExampleStack', {
      taskQueue: { workerCode: INLINE },
      ...(httpApi === undefined ? {} : { httpApi }),
    });
    return { app, stack };
  };

  it('THEN it has the HTTP API by default, with the HttpApiUrl output', () => {
    const { stack } = build();
    expect(stack.httpApi).toBeInstanceOf(TaskQueueHttpApi);
    const template = Template.fromStack(stack);
    template.hasOutput('HttpApiUrl', {
      Value: {
        'Fn::GetAtt': [stack.getLogicalId(stack.httpApi?.functionUrl.node.defaultChild as CfnElement), 'FunctionUrl'],
      },
    });
    template.resourceCountIs('AWS::Lambda::Url', 1);
  });

  it('WHEN httpApi is false THEN there is no function URL and no HttpApiUrl output', () => {
    const { stack } = build(false);
    expect(stack.httpApi).toBeUndefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Url', 0);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('HttpApiUrl');
  });

  it("WHEN synthesized with cdk-nag THEN no finding is left, and the HTTP API acknowledges only its X-Ray wildcard, grantEnqueue's argument blobs (it has no delay.* timers), and grantReadResults' result and error blobs", () => {
    const { app, stack } = build();
    checkWithCdkNag(app);
    acknowledgeExampleFindings(stack);
    const assembly = app.synth(); // throws on an unacknowledged error
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
    const acknowledged = stack.httpApi?.role.node.metadata.filter(
      (m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
    );
    const bucket = stack.getLogicalId(stack.tasks.bucket.node.defaultChild as CfnElement);
    expect(acknowledged?.map((m) => m.data)).toEqual([
      { 'AwsSolutions::AwsSolutions-IAM5[Resource::*]': expect.stringMatching(/^X-Ray active tracing: .{100,}/) },
      {
        [`AwsSolutions::AwsSolutions-IAM5[Resource::<${bucket}.Arn>/blobs/*d/args/*]`]: expect.stringMatching(
          /^The claim-check: arguments too large .*blobs\/\*d\/args\/\*/,
        ),
      },
      {
        [`AwsSolutions::AwsSolutions-IAM5[Resource::<${bucket}.Arn>/blobs/*d/result/*]`]: expect.stringMatching(
          /^The claim-check: a result too large .*blobs\/\*d\/result\/\*/,
        ),
      },
      {
        [`AwsSolutions::AwsSolutions-IAM5[Resource::<${bucket}.Arn>/blobs/*d/error/*]`]: expect.stringMatching(
          /^The claim-check: an error message too large .*blobs\/\*d\/error\/\*/,
        ),
      },
    ]);
  }, 60_000);
});
