/** The TaskQueue props rules: each message says what was given, what is allowed and how to fix it. */

import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TaskQueue, type TaskQueueProps, TaskQueuePropsError } from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';
import { resolveTaskQueueProps } from '../../infra/task-queue-props.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({});');

/** The problems of `props`, with inline worker code unless they name the worker's code themselves. */
function problemsOf(props: TaskQueueProps): readonly string[] {
  try {
    resolveTaskQueueProps(props.workerEntry === undefined ? { workerCode: INLINE, ...props } : props);
  } catch (error) {
    if (error instanceof TaskQueuePropsError) return error.problems;
    throw error;
  }
  return [];
}

describe('GIVEN TaskQueue props that break a rule', () => {
  it.each([
    [{ batchSize: 11 }, ['batchSize is 11', '1 to 10', 'Pass a whole number from 1 to 10']],
    [{ batchSize: 0 }, ['batchSize is 0', '1 to 10']],
    [{ batchSize: 2.5 }, ['batchSize is 2.5', 'whole number']],
    [{ maxConcurrency: 1 }, ['maxConcurrency is 1', 'from 2 to 1000', 'Pass a value in that range']],
    [{ maxConcurrency: 1001 }, ['maxConcurrency is 1001', 'from 2 to 1000']],
    [{ maxReceiveCount: 0 }, ['maxReceiveCount is 0', 'from 1 to 1000']],
    [{ workerMemorySizeMiB: 64 }, ['workerMemorySizeMiB is 64', 'from 128 to 10240']],
    [
      { workerTimeout: Duration.minutes(16) },
      ['workerTimeout is 16 minutes', '1 second to 15 minutes', 'spool worker'],
    ],
    [
      { workerTimeout: Duration.minutes(2), visibilityTimeout: Duration.minutes(1) },
      ['visibilityTimeout is 1 minute, shorter than workerTimeout (2 minutes)', 'at least 2 minutes'],
    ],
    [{ visibilityTimeout: Duration.hours(13) }, ['visibilityTimeout is 13 hours', 'at most 12 hours']],
    [
      { reservedConcurrency: 5, maxConcurrency: 10 },
      ['reservedConcurrency is 5', 'at least maxConcurrency (10)', 'reservedConcurrency ≥ 10'],
    ],
    [{ oldestMessageAgeAlarmThreshold: Duration.seconds(30) }, ['oldestMessageAgeAlarmThreshold is 30 seconds']],
    [
      { workerEnvironment: { SPOOL_TABLE: 'other', NODE_OPTIONS: '' } },
      ['workerEnvironment sets SPOOL_TABLE, NODE_OPTIONS', 'Remove those keys'],
    ],
    [
      { workerEnvironment: { SPOOL_SCHEDULE_GROUP: 'other', SPOOL_SCHEDULER_ROLE_ARN: 'arn:aws:iam::1:role/x' } },
      [
        'workerEnvironment sets SPOOL_SCHEDULE_GROUP, SPOOL_SCHEDULER_ROLE_ARN',
        'the construct sets SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE, SPOOL_SCHEDULE_GROUP, SPOOL_SCHEDULER_ROLE_ARN, SPOOL_BUCKET and NODE_OPTIONS itself',
      ],
    ],
    [{ workerEntry: 'functions/worker.ts', workerCode: INLINE }, ['both workerEntry and workerCode', 'only one']],
  ] satisfies [TaskQueueProps, string[]][])('WHEN %o THEN one problem explains it', (props, fragments) => {
    const problems = problemsOf(props);
    expect(problems).toHaveLength(1);
    for (const fragment of fragments) expect(problems[0]).toContain(fragment);
  });

  it('WHEN the runtime is nodejs20.x THEN it is refused with the runtimes allowed', () => {
    const [problem] = problemsOf({ runtime: lambda.Runtime.NODEJS_20_X });
    expect(problem).toContain('runtime is nodejs20.x');
    expect(problem).toContain('Node.js 22 or newer');
    expect(problem).toMatch(/Allowed: nodejs22\.x, nodejs24\.x/);
    expect(problem).toContain('leave runtime out for nodejs24.x');
  });

  it('WHEN the runtime is not Node.js THEN it is refused', () => {
    expect(problemsOf({ runtime: lambda.Runtime.PYTHON_3_13 })[0]).toContain('runtime is python3.13');
  });

  it('WHEN several rules are broken THEN every problem is listed at once', () => {
    const problems = problemsOf({ batchSize: 20, maxConcurrency: 0, runtime: lambda.Runtime.NODEJS_18_X });
    expect(problems).toHaveLength(3);
    expect(new TaskQueuePropsError(problems).message).toMatch(
      /^Invalid TaskQueue props:\n {2}- runtime is nodejs18\.x.*\n {2}- batchSize is 20.*\n {2}- maxConcurrency is 0/s,
    );
  });

  it('WHEN the construct is created with them THEN it throws a TaskQueuePropsError', () => {
    const stack = new Stack(new App(), 'Test');
    expect(() => new TaskQueue(stack, 'Tasks', { workerCode: INLINE, batchSize: 11 })).toThrow(TaskQueuePropsError);
    expect(() => new TaskQueue(stack, 'Tasks2', { workerCode: INLINE, maxConcurrency: 1 })).toThrow(
      /maxConcurrency is 1/,
    );
    expect(() => new TaskQueue(stack, 'Tasks3', { workerCode: INLINE, runtime: lambda.Runtime.NODEJS_20_X })).toThrow(
      /nodejs22\.x, nodejs24\.x/,
    );
  });
});

describe('GIVEN TaskQueue props at the edges of what is allowed', () => {
  it.each([
    { batchSize: 1 },
    { batchSize: 10 },
    { maxConcurrency: 2 },
    { maxConcurrency: 1000 },
    { maxReceiveCount: 1 },
    { workerTimeout: Duration.minutes(15) },
    { workerTimeout: Duration.seconds(30), visibilityTimeout: Duration.seconds(30) },
    { reservedConcurrency: 10, maxConcurrency: 10 },
    { runtime: lambda.Runtime.NODEJS_22_X },
    { runtime: lambda.Runtime.NODEJS_24_X },
    { oldestMessageAgeAlarmThreshold: Duration.minutes(1) },
  ] satisfies TaskQueueProps[])('WHEN %o THEN they are accepted', (props) => {
    expect(problemsOf(props)).toEqual([]);
  });

  it('WHEN only the worker code is given THEN the defaults are applied', () => {
    const resolved = resolveTaskQueueProps({ workerCode: INLINE });
    expect(resolved.runtime.name).toBe('nodejs24.x');
    expect(resolved.workerTimeout.toSeconds()).toBe(60);
    expect(resolved.visibilityTimeout.toSeconds()).toBe(360);
    expect([resolved.batchSize, resolved.maxConcurrency, resolved.maxReceiveCount]).toEqual([10, 10, 100]);
  });
});
