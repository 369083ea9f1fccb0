/**
 * Scheduling on the TaskQueue construct: the schedule group, the role EventBridge Scheduler
 * assumes (only this account's Scheduler, only SendMessage to the task queue), one
 * AWS::Scheduler::Schedule per `defineSchedule` with exactly the parameters `spool schedules sync`
 * sets, content-based deduplication on the task queue, rates Scheduler cannot run refused at
 * synthesis, referenced task queues with and without a scheduler, and the example stack's
 * `reconcile-orders` schedule under cdk-nag. The worker's code is inline (no esbuild run).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { ConfigurationError, defineSchedule, defineTask, type Schedule } from 'spool-tasks';
import { TaskQueue, type TaskQueueProps } from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SpoolExampleStack } from '../../infra/app.js';
import { acknowledgeExampleFindings, checkWithCdkNag } from '../../infra/nag.js';
import { recurringScheduleParams } from '../../lib/aws/schedule-params.js';
import { sorted, statementsOf, stateReadStatement, timerStatements, viaService } from './iam.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });');

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

const reconcile = defineTask({
  name: 'orders.reconcile',
  schema: z.object({ window: z.enum(['daily', 'weekly']) }),
  handler: ({ window }) => ({ window }),
});
const cleanup = defineTask({ name: 'tmp.cleanup', schema: z.object({}), handler: () => undefined });

const nightly = defineSchedule({
  name: 'reconcile-orders',
  task: reconcile,
  args: { window: 'daily' },
  cron: '15 3 * * *',
  timezone: 'Europe/Berlin',
  description: 'Reconcile the day’s charges',
});
const everyFiveMinutes = defineSchedule({
  name: 'cleanup',
  task: cleanup,
  args: {},
  every: '5 minutes',
  overlap: 'allow',
  missedRuns: 'all',
});

function synth(props: TaskQueueProps = {}) {
  const stack = new Stack(new App(), 'Test');
  const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, ...props });
  const id = (construct: IConstruct) => stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
  const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [id(construct), 'Arn'] });
  return { stack, tasks, template: Template.fromStack(stack), id, arn };
}

/** Every resource of a type, its logical id to its properties. */
const propertiesOf = (template: Template, type: string): Record<string, Record<string, unknown> | undefined> =>
  Object.fromEntries(Object.entries(template.findResources(type)).map(([key, r]) => [key, r.Properties]));

describe('GIVEN a TaskQueue with default props', () => {
  const { stack, tasks, template, id, arn } = synth();

  it('THEN it has one schedule group and no schedules', () => {
    expect(Object.values(propertiesOf(template, 'AWS::Scheduler::ScheduleGroup'))).toEqual([undefined]);
    expect(id(tasks.scheduling.group)).toBe(Object.keys(template.findResources('AWS::Scheduler::ScheduleGroup'))[0]);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    expect(tasks.scheduling.schedules.size).toBe(0);
    expect(stack.resolve(tasks.scheduling.groupName)).toEqual({ Ref: id(tasks.scheduling.group) });
  });

  it("THEN the Scheduler role may be assumed only by this account's EventBridge Scheduler, for a schedule of this group", () => {
    const role = template.toJSON().Resources[id(tasks.scheduling.role)].Properties;
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'scheduler.amazonaws.com' },
          // Scheduler's aws:SourceArn is the schedule group's ARN (never a schedule's).
          Condition: {
            StringEquals: {
              'aws:SourceAccount': { Ref: 'AWS::AccountId' },
              'aws:SourceArn': { 'Fn::GetAtt': [id(tasks.scheduling.group), 'Arn'] },
            },
          },
        },
      ],
    });
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  it('THEN the Scheduler role may only send to the task queue (not the dead-letter queue)', () => {
    expect(statementsOf(stack, tasks.scheduling.role)).toEqual([
      { actions: ['sqs:SendMessage'], resources: [arn(tasks.queue)] },
    ]);
  });

  it('THEN the task queue has content-based deduplication (Scheduler sends no deduplication id); the dead-letter queue not', () => {
    const queues = template.toJSON().Resources;
    expect(queues[id(tasks.queue)].Properties.ContentBasedDeduplication).toBe(true);
    expect(queues[id(tasks.deadLetterQueue)].Properties.ContentBasedDeduplication).toBeUndefined();
  });

  it("THEN the worker's environment names the schedule group and the Scheduler role", () => {
    const env = template.toJSON().Resources[id(tasks.worker)].Properties.Environment.Variables;
    expect(env.SPOOL_SCHEDULE_GROUP).toEqual({ Ref: id(tasks.scheduling.group) });
    expect(env.SPOOL_SCHEDULER_ROLE_ARN).toEqual(arn(tasks.scheduling.role));
  });
});

describe('GIVEN a TaskQueue with a customer managed key', () => {
  it("THEN the Scheduler role may send to the task queue, use the key through SQS, and decrypt the payloads of this group's schedules, nothing more", () => {
    const stack = new Stack(new App(), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key });
    const arn = (construct: IConstruct) => ({
      'Fn::GetAtt': [stack.getLogicalId(construct.node.defaultChild as CfnElement), 'Arn'],
    });
    expect(statementsOf(stack, tasks.scheduling.role)).toEqual(
      sorted([
        { actions: ['sqs:SendMessage'], resources: [arn(tasks.queue)] },
        viaService(arn(key), ['kms:Decrypt', 'kms:GenerateDataKey'], 'sqs'),
        {
          actions: ['kms:Decrypt'],
          resources: [arn(key)],
          condition: {
            StringLike: {
              'kms:EncryptionContext:aws:scheduler:schedule:arn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':scheduler:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    ':schedule/',
                    { Ref: stack.getLogicalId(tasks.scheduling.group) },
                    '/*',
                  ],
                ],
              },
            },
          },
        },
      ]),
    );
  });
});

describe('GIVEN a TaskQueue with schedules defined by defineSchedule', () => {
  const { tasks, template, id, arn } = synth({ schedules: [nightly, everyFiveMinutes] });
  const schedules = propertiesOf(template, 'AWS::Scheduler::Schedule');
  const byName = (name: string) => Object.values(schedules).find((p) => p?.Name === name);
  /** The target every schedule shares: the task queue, as the Scheduler role, retried for 24 hours. */
  const target = (name: string, input: string) => ({
    Arn: arn(tasks.queue),
    RoleArn: arn(tasks.scheduling.role),
    Input: input,
    SqsParameters: { MessageGroupId: `sched:${name}` },
    RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
  });

  it('THEN there is one AWS::Scheduler::Schedule per schedule, each in the group', () => {
    expect(Object.values(schedules).map((p) => p?.Name)).toEqual(['reconcile-orders', 'cleanup']);
    expect([...tasks.scheduling.schedules.keys()]).toEqual(['reconcile-orders', 'cleanup']);
    for (const [name, cfn] of tasks.scheduling.schedules) {
      expect(schedules[id(cfn)]?.Name).toBe(name);
      expect(schedules[id(cfn)]?.GroupName).toEqual({ Ref: id(tasks.scheduling.group) });
    }
  });

  it('WHEN the schedule is a cron in a time zone THEN it is the AWS cron form in that zone, flexible window OFF, sending the fire message to the task queue', () => {
    expect(byName('reconcile-orders')).toEqual({
      Name: 'reconcile-orders',
      GroupName: { Ref: id(tasks.scheduling.group) },
      ScheduleExpression: 'cron(15 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Description: 'Reconcile the day’s charges',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: target(
        'reconcile-orders',
        '{"spool":1,"fire":{"name":"reconcile-orders","task":"orders.reconcile","args":{"window":"daily"},' +
          '"cron":"15 3 * * *","timezone":"Europe/Berlin","overlap":"skip","missedRuns":"latest",' +
          '"description":"Reconcile the day’s charges"},"scheduledTime":"<aws.scheduler.scheduled-time>"}',
      ),
    });
  });

  it('WHEN the schedule is a rate THEN it is rate(…) in UTC, without a description, its overlap and missed-runs rules in the fire message', () => {
    expect(byName('cleanup')).toEqual({
      Name: 'cleanup',
      GroupName: { Ref: id(tasks.scheduling.group) },
      ScheduleExpression: 'rate(5 minutes)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: target(
        'cleanup',
        '{"spool":1,"fire":{"name":"cleanup","task":"tmp.cleanup","args":{},"every":"5 minutes",' +
          '"overlap":"allow","missedRuns":"all"},"scheduledTime":"<aws.scheduler.scheduled-time>"}',
      ),
    });
  });

  it('THEN each schedule is what `spool schedules sync` would deploy (so a sync after cdk deploy changes nothing)', () => {
    const stack = Stack.of(tasks);
    for (const schedule of [nightly, everyFiveMinutes]) {
      const p = recurringScheduleParams(schedule.spec, {
        queueArn: stack.resolve(tasks.queue.queueArn),
        roleArn: stack.resolve(tasks.scheduling.role.roleArn),
      });
      const cfn = byName(schedule.name);
      expect(cfn).toMatchObject({
        Name: p.Name,
        ScheduleExpression: p.ScheduleExpression,
        ScheduleExpressionTimezone: p.ScheduleExpressionTimezone,
        FlexibleTimeWindow: p.FlexibleTimeWindow,
        Target: p.Target,
      });
      expect(cfn?.Description).toBe(p.Description);
      expect(p.ActionAfterCompletion).toBe('NONE'); // CloudFormation's default for a recurring schedule
    }
  });

  it.each([
    ['1 minute', 'rate(1 minute)'],
    ['90 minutes', 'rate(90 minutes)'],
    ['1 hour', 'rate(1 hour)'],
    ['3 hours', 'rate(3 hours)'],
    ['1 day', 'rate(1 day)'],
    ['120 seconds', 'rate(2 minutes)'],
    ['14 days', 'rate(14 days)'],
  ])('WHEN the rate is every %s THEN the expression is %s', (every, expression) => {
    const { template } = synth({ schedules: [defineSchedule({ name: 'r', task: cleanup, args: {}, every })] });
    expect(Object.values(propertiesOf(template, 'AWS::Scheduler::Schedule'))).toEqual([
      expect.objectContaining({ ScheduleExpression: expression, ScheduleExpressionTimezone: 'UTC' }),
    ]);
  });
});

describe('GIVEN a schedule EventBridge Scheduler cannot run', () => {
  /** The error constructing a TaskQueue with `schedules` throws. */
  const refusal = (schedules: Schedule[]) => {
    try {
      synth({ schedules });
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it('WHEN the rate is 30 seconds THEN synthesis is refused with a ConfigurationError naming the schedule and the 1-minute limit', () => {
    // defineSchedule accepts it: sub-minute rates run on the embedded runtime.
    const fast = defineSchedule({ name: 'heartbeat', task: cleanup, args: {}, every: '30 seconds' });
    const error = refusal([nightly, fast]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      /^schedule 'heartbeat': every "30 seconds" cannot run on EventBridge Scheduler/,
    );
    expect((error as Error).message).toContain('smallest rate is 1 minute');
    expect((error as Error).message).toContain('Use a rate of whole minutes (or a cron expression)');
  });

  it('WHEN the rate is not whole minutes (90 seconds) THEN synthesis is refused the same way', () => {
    const error = refusal([defineSchedule({ name: 'odd', task: cleanup, args: {}, every: '90 seconds' })]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/schedule 'odd': every "90 seconds".*smallest rate is 1 minute/);
  });

  it('WHEN two schedules share a name THEN synthesis is refused naming it', () => {
    const twin = defineSchedule({ name: 'reconcile-orders', task: cleanup, args: {}, every: '1 hour' });
    expect(refusal([nightly, twin])).toEqual(
      new Error("TaskQueue: two schedules are named 'reconcile-orders'. Schedule names must be unique; rename one."),
    );
  });
});

describe('GIVEN a task queue referenced by its attributes', () => {
  const QUEUE = 'arn:aws:sqs:eu-west-1:111122223333:orders.fifo';
  const ROLE = 'arn:aws:iam::111122223333:role/spool-orders-scheduler';
  const imported = (scheduler?: { groupName: string; roleArn: string }) => {
    const stack = new Stack(new App(), 'Producers');
    const tasks = TaskQueue.fromTaskQueueAttributes(stack, 'Tasks', {
      queueArn: QUEUE,
      deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:111122223333:orders-dlq.fifo',
      tableName: 'orders-tasks',
      ...(scheduler === undefined ? {} : { scheduler }),
    });
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    tasks.grantEnqueue(producer);
    const fn = new lambda.Function(stack, 'Api', {
      code: INLINE,
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });
    tasks.bindTo(fn);
    const env =
      Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Properties
        .Environment.Variables;
    const table = stack.resolve(tasks.table.tableArn);
    const leadingKeys = (prefix: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [prefix] } });
    const enqueue = [
      { actions: ['sqs:SendMessage'], resources: [QUEUE] },
      {
        actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
        resources: [table],
        condition: leadingKeys('lock#unique#*'),
      },
      stateReadStatement(table),
    ];
    return { stack, tasks, statements: statementsOf(stack, producer), env, enqueue };
  };

  it('WHEN it has a scheduler THEN grantEnqueue also covers its delay.* timers and passing its role, and bindTo sets its group and role', () => {
    const { tasks, statements, env, enqueue } = imported({ groupName: 'spool-orders', roleArn: ROLE });
    expect(statements).toEqual(sorted([...enqueue, ...timerStatements('spool-orders', ROLE)]));
    expect(tasks.environment).toEqual({
      SPOOL_QUEUE_URL: expect.any(String),
      SPOOL_DLQ_URL: expect.any(String),
      SPOOL_TABLE: 'orders-tasks',
      SPOOL_SCHEDULE_GROUP: 'spool-orders',
      SPOOL_SCHEDULER_ROLE_ARN: ROLE,
    });
    expect(Object.keys(env).sort()).toEqual([
      'SPOOL_DLQ_URL',
      'SPOOL_QUEUE_URL',
      'SPOOL_SCHEDULER_ROLE_ARN',
      'SPOOL_SCHEDULE_GROUP',
      'SPOOL_TABLE',
    ]);
    expect([env.SPOOL_SCHEDULE_GROUP, env.SPOOL_SCHEDULER_ROLE_ARN]).toEqual(['spool-orders', ROLE]);
  });

  it('WHEN it has no scheduler THEN grantEnqueue gives no Scheduler or PassRole permission, and bindTo no Scheduler variables', () => {
    const { tasks, statements, env, enqueue } = imported();
    expect(statements).toEqual(sorted(enqueue));
    expect(Object.keys(tasks.environment).sort()).toEqual(['SPOOL_DLQ_URL', 'SPOOL_QUEUE_URL', 'SPOOL_TABLE']);
    expect(Object.keys(env).sort()).toEqual(['SPOOL_DLQ_URL', 'SPOOL_QUEUE_URL', 'SPOOL_TABLE']);
  });
});

describe('GIVEN the example stack', () => {
  /** The example app as `cdk synth` builds it, without running esbuild (bundling skipped). */
  const build = () => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new SpoolExampleStack(app, 'SpoolExampleStack', { taskQueue: { workerCode: INLINE } });
    checkWithCdkNag(app);
    acknowledgeExampleFindings(stack);
    return { app, stack };
  };

  it('THEN it deploys the reconcile-orders schedule: orders.reconcile with {window: daily} at 03:15 Berlin time', () => {
    const { stack } = build();
    const id = (c: IConstruct) => stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement);
    const arn = (c: IConstruct) => ({ 'Fn::GetAtt': [id(c), 'Arn'] });
    const schedules = Object.values(propertiesOf(Template.fromStack(stack), 'AWS::Scheduler::Schedule'));
    expect(schedules).toEqual([
      {
        Name: 'reconcile-orders',
        GroupName: { Ref: id(stack.tasks.scheduling.group) },
        ScheduleExpression: 'cron(15 3 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        Description: 'Reconcile the day’s charges with the payment provider',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: arn(stack.tasks.queue),
          RoleArn: arn(stack.tasks.scheduling.role),
          Input: expect.any(String),
          SqsParameters: { MessageGroupId: 'sched:reconcile-orders' },
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      },
    ]);
    const input = (schedules[0]?.Target as { Input?: string } | undefined)?.Input ?? '';
    expect(JSON.parse(input)).toEqual({
      spool: 1,
      fire: {
        name: 'reconcile-orders',
        task: 'orders.reconcile',
        args: { window: 'daily' },
        cron: '15 3 * * *',
        timezone: 'Europe/Berlin',
        overlap: 'skip',
        missedRuns: 'latest',
        description: 'Reconcile the day’s charges with the payment provider',
      },
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
  });

  it('WHEN synthesized with cdk-nag THEN no finding is left, and the schedule group, Scheduler role and schedule acknowledge nothing', () => {
    const { app, stack } = build();
    const assembly = app.synth(); // throws on an unacknowledged error
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
    const acknowledgedUnderScheduling = stack.tasks.scheduling.node
      .findAll()
      .filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY));
    expect(acknowledgedUnderScheduling).toEqual([]);
  }, 60_000);
});
