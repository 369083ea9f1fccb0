/**
 * Exact-statement tests of the grants that permissions.test.ts does not already cover:
 * grantEnqueue without delays, every grant with a customer managed key (each key use through its
 * service only), the key on the worker's log group and on the recurring schedules, and the
 * README's description of each grant checked against the synthesized policies.
 */

import { readFileSync } from 'node:fs';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { defineSchedule, defineTask } from 'spool-tasks';
import {
  acknowledgeEnqueueGrantFindings,
  acknowledgeReadResultsGrantFindings,
  acknowledgeTaskQueueFindings,
  TaskQueue,
} from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkWithCdkNag } from '../../infra/nag.js';
import { STATE_PROJECTION_ATTRIBUTES } from '../../lib/aws/keys.js';
import {
  cancelTimerStatement,
  leadingKeys,
  type Statement,
  sorted,
  statementsOf,
  stateReadStatement,
  timerStatements,
  viaService,
} from './iam.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({});');

/** The KMS actions each key use grants (infra/task-queue.ts), as they appear in a statement. */
const DYNAMODB_WRITE = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];

/** A TaskQueue in an environment-agnostic stack, with or without a key, and a producer role. */
function setup(options: { key?: boolean } = {}) {
  const stack = new Stack(new App(), 'Test');
  const key = options.key === true ? new kms.Key(stack, 'Key', { enableKeyRotation: true }) : undefined;
  const tasks = new TaskQueue(stack, 'Tasks', {
    workerCode: INLINE,
    ...(key === undefined ? {} : { encryptionKey: key }),
  });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const id = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [id(construct), 'Arn'] });
  const table = arn(tasks.node.findChild('Table'));
  const objects = (pattern: string) => ({ 'Fn::Join': ['', [arn(tasks.bucket), `/${pattern}`]] });
  const keyArn = key === undefined ? undefined : arn(key);
  return { stack, key, keyArn, tasks, producer, id, arn, table, objects };
}

/** grantEnqueue's statements without a key and without delays. */
function enqueueStatements(s: ReturnType<typeof setup>): Statement[] {
  return [
    { actions: ['sqs:SendMessage'], resources: [s.arn(s.tasks.queue)] },
    {
      actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
      resources: [s.table],
      condition: leadingKeys('lock#unique#*'),
    },
    stateReadStatement(s.table),
    { actions: ['s3:PutObject'], resources: [s.objects('blobs/*d/args/*')] },
  ];
}

describe('GIVEN a TaskQueue', () => {
  it('WHEN a producer is granted grantEnqueue with delays: false THEN it gets no Scheduler permission and no iam:PassRole', () => {
    const s = setup();
    s.tasks.grantEnqueue(s.producer, { delays: false });
    expect(statementsOf(s.stack, s.producer)).toEqual(sorted(enqueueStatements(s)));
  });

  it('WHEN a producer is granted grantEnqueue with delays: true THEN it is the default grant', () => {
    const s = setup();
    s.tasks.grantEnqueue(s.producer, { delays: true });
    expect(statementsOf(s.stack, s.producer)).toEqual(
      sorted([
        ...enqueueStatements(s),
        ...timerStatements({ Ref: s.stack.getLogicalId(s.tasks.scheduling.group) }, s.arn(s.tasks.scheduling.role)),
      ]),
    );
  });

  it("THEN the worker's log group is not encrypted with a customer key", () => {
    const s = setup();
    const template = Template.fromStack(s.stack).toJSON().Resources;
    expect(template[s.id(s.tasks.workerLogGroup)].Properties.KmsKeyId).toBeUndefined();
  });
});

describe('GIVEN a TaskQueue with a customer managed key', () => {
  it('WHEN a producer is granted grantEnqueue THEN every statement is exact, each key use through its service only', () => {
    const s = setup({ key: true });
    s.tasks.grantEnqueue(s.producer);
    expect(statementsOf(s.stack, s.producer)).toEqual(
      sorted([
        ...enqueueStatements(s),
        ...timerStatements({ Ref: s.stack.getLogicalId(s.tasks.scheduling.group) }, s.arn(s.tasks.scheduling.role)),
        viaService(s.keyArn, ['kms:Decrypt', 'kms:GenerateDataKey'], 'sqs'),
        viaService(s.keyArn, DYNAMODB_WRITE, 'dynamodb'),
        viaService(s.keyArn, ['kms:GenerateDataKey'], 's3'),
      ]),
    );
  });

  it('WHEN a producer is granted grantEnqueue with delays: false THEN the same without Scheduler and PassRole', () => {
    const s = setup({ key: true });
    s.tasks.grantEnqueue(s.producer, { delays: false });
    expect(statementsOf(s.stack, s.producer)).toEqual(
      sorted([
        ...enqueueStatements(s),
        viaService(s.keyArn, ['kms:Decrypt', 'kms:GenerateDataKey'], 'sqs'),
        viaService(s.keyArn, DYNAMODB_WRITE, 'dynamodb'),
        viaService(s.keyArn, ['kms:GenerateDataKey'], 's3'),
      ]),
    );
  });

  it('WHEN a reader is granted grantReadResults THEN every statement is exact', () => {
    const s = setup({ key: true });
    s.tasks.grantReadResults(s.producer);
    expect(statementsOf(s.stack, s.producer)).toEqual(
      sorted([
        { actions: ['dynamodb:GetItem'], resources: [s.table], condition: leadingKeys('task#*') },
        { actions: ['s3:GetObject'], resources: [s.objects('blobs/*d/error/*'), s.objects('blobs/*d/result/*')] },
        viaService(s.keyArn, ['kms:Decrypt', 'kms:DescribeKey'], 'dynamodb'),
        viaService(s.keyArn, ['kms:Decrypt'], 's3'),
      ]),
    );
  });

  it('WHEN a canceller is granted grantCancel THEN every statement is exact', () => {
    const s = setup({ key: true });
    s.tasks.grantCancel(s.producer);
    expect(statementsOf(s.stack, s.producer)).toEqual(
      sorted([
        { actions: ['dynamodb:UpdateItem'], resources: [s.table], condition: leadingKeys('task#*') },
        { actions: ['dynamodb:DeleteItem'], resources: [s.table], condition: leadingKeys('task#*', 'lock#unique#*') },
        cancelTimerStatement({ Ref: s.stack.getLogicalId(s.tasks.scheduling.group) }),
        viaService(s.keyArn, DYNAMODB_WRITE, 'dynamodb'),
      ]),
    );
  });

  it("THEN the worker's role holds no key grant outside SQS, DynamoDB and S3 (the event source adds no bare kms:Decrypt)", () => {
    const s = setup({ key: true });
    const key = statementsOf(s.stack, s.tasks.workerRole).filter((st) => st.actions.some((a) => a.startsWith('kms:')));
    expect(key.every((st) => JSON.stringify(st.condition).includes('kms:ViaService'))).toBe(true);
    const mappings = Template.fromStack(s.stack).findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.keys(mappings)).toHaveLength(1);
    expect(Object.keys(mappings)[0]).toMatch(/^TasksWorkerSqsEventSourceTestTasksQueue/);
  });

  it("THEN the worker's log group is encrypted with the key, and the key policy lets this region's CloudWatch Logs use it for this account's log groups", () => {
    const s = setup({ key: true });
    const resources = Template.fromStack(s.stack).toJSON().Resources;
    expect(resources[s.id(s.tasks.workerLogGroup)].Properties.KmsKeyId).toEqual(s.keyArn);
    const statements = resources[s.id(s.key as kms.Key)].Properties.KeyPolicy.Statement;
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      Resource: '*',
      Condition: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':logs:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':log-group:*',
              ],
            ],
          },
        },
      },
    });
    expect(statements).toHaveLength(2); // the account's own statement, and CloudWatch Logs'
  });

  it('WHEN schedules are declared THEN each encrypts its payload with the key', () => {
    const stack = new Stack(new App(), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const build = defineTask({ name: 'reports.build', schema: z.object({}), handler: () => undefined });
    const nightly = defineSchedule({ name: 'nightly', task: build, args: {}, cron: '0 3 * * *' });
    new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key, schedules: [nightly] });
    const schedules = Object.values(Template.fromStack(stack).findResources('AWS::Scheduler::Schedule'));
    expect(schedules.map((r) => r.Properties.KmsKeyArn)).toEqual([
      { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'] },
    ]);
  });

  it('WHEN the key is defined elsewhere THEN a warning says the key policy must let CloudWatch Logs use it', () => {
    const stack = new Stack(new App(), 'Test');
    const key = kms.Key.fromKeyArn(
      stack,
      'Key',
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
    new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key });
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('CloudWatch|logs\\.'));
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.entry.data)).toContain('kms:EncryptionContext:aws:logs:arn');
  });
});

describe('GIVEN a TaskQueue with a customer managed key, schedules and a producer with every grant', () => {
  it('WHEN synthesized with cdk-nag THEN no finding is left beyond the acknowledged ones', () => {
    const app = new App();
    checkWithCdkNag(app);
    const stack = new Stack(app, 'Keyed');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const build = defineTask({ name: 'reports.build', schema: z.object({}), handler: () => undefined });
    const schedules = [defineSchedule({ name: 'nightly', task: build, args: {}, cron: '0 3 * * *' })];
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key, schedules });
    acknowledgeTaskQueueFindings(tasks);
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    tasks.grantEnqueue(producer);
    tasks.grantReadResults(producer);
    tasks.grantCancel(producer);
    acknowledgeEnqueueGrantFindings(producer, tasks);
    acknowledgeReadResultsGrantFindings(producer, tasks);
    expect(() => app.synth()).not.toThrow();
  });
});

/** The README's grants code block (Deploying with the CDK): each grant call and the actions its comment names. */
function readmeGrants(): {
  call: string;
  grant: 'grantEnqueue' | 'grantReadResults' | 'grantCancel';
  delays?: boolean;
  actions: string[];
}[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Deploying with the CDK'));
  const block = section.slice(section.indexOf('```ts'), section.indexOf('```\n', section.indexOf('```ts') + 5));
  const found: ReturnType<typeof readmeGrants> = [];
  let current: (typeof found)[number] | undefined;
  for (const line of block.split('\n')) {
    const call = /^tasks\.(grantEnqueue|grantReadResults|grantCancel)\(\w+(?:, \{ delays: (true|false) \})?\);/.exec(
      line,
    );
    if (call !== null) {
      current = {
        call: line,
        grant: call[1] as 'grantEnqueue' | 'grantReadResults' | 'grantCancel',
        ...(call[2] === undefined ? {} : { delays: call[2] === 'true' }),
        actions: [],
      };
      found.push(current);
    } else if (line.startsWith('//') && current !== undefined) {
      current.actions.push(...(line.match(/\b(?:sqs|dynamodb|s3|scheduler|iam|kms):[A-Za-z]+/g) ?? []));
    } else {
      current = undefined;
    }
  }
  return found;
}

describe("GIVEN the README's grants block", () => {
  const grants = readmeGrants();

  it('THEN it shows every grant, and grantEnqueue with and without delays', () => {
    expect(grants.map((g) => [g.grant, g.delays])).toEqual([
      ['grantEnqueue', undefined],
      ['grantEnqueue', false],
      ['grantReadResults', undefined],
      ['grantCancel', undefined],
    ]);
  });

  it.each(grants.map((g) => [g.call, g] as const))(
    'WHEN %s THEN its comment names exactly the actions of the synthesized policy (KMS aside)',
    (_, g) => {
      const s = setup();
      if (g.grant === 'grantEnqueue')
        s.tasks.grantEnqueue(s.producer, g.delays === undefined ? {} : { delays: g.delays });
      else s.tasks[g.grant](s.producer);
      const synthesized = statementsOf(s.stack, s.producer).flatMap((st) => st.actions);
      expect([...new Set(g.actions)].sort()).toEqual([...new Set(synthesized)].sort());
    },
  );

  it("THEN grantEnqueue's comment names the attributes its state read is limited to", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`only ${STATE_PROJECTION_ATTRIBUTES.join(', ')}`);
  });
});
