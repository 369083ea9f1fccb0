import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { fromPowertoolsLogger, metricsMiddleware, publishingMetrics } from 'spool-tasks/powertools';
import { afterEach, describe, expect, it, vi } from 'vitest';

const lines: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  lines.length = 0;
});
function capture() {
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
  }
}
const parsed = () =>
  lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Powertools adapters', () => {
  it('GIVEN the Powertools logger WHEN spool logs through a child THEN lines carry spool fields and the Lambda context', () => {
    capture();
    const powertools = new Logger({ serviceName: 'spool-worker', logLevel: 'DEBUG' });
    powertools.addContext({
      functionName: 'worker',
      awsRequestId: 'req-7',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:worker',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
    } as unknown as Context);
    const logger = fromPowertoolsLogger(powertools).child({ taskId: 't-1', task: 'orders.charge', attempt: 2 });
    logger.warn('attempt failed; will retry', { delaySeconds: 3, error: new Error('boom') });
    const line = parsed().find((l) => l.message === 'attempt failed; will retry');
    expect(line).toMatchObject({
      level: 'WARN',
      service: 'spool-worker',
      function_request_id: 'req-7',
      taskId: 't-1',
      task: 'orders.charge',
      attempt: 2,
      delaySeconds: 3,
      error: { name: 'Error', message: 'boom' },
    });
  });

  it('GIVEN the metrics middleware THEN each outcome is one EMF metric with the task dimension', async () => {
    capture();
    const middleware = metricsMiddleware(new Metrics({ namespace: 'spool', serviceName: 'spool-worker' }));
    const event = {
      taskId: 't',
      task: 'orders.charge',
      attempt: 1,
      args: {},
      logger: fromPowertoolsLogger(new Logger()),
    };
    await middleware.afterRun?.({ ...event, result: 1, durationMs: 12 });
    await middleware.onFailure?.({ ...event, error: new Error('x'), willRetry: true, durationMs: 5 });
    const emf = parsed().filter((l) => '_aws' in l);
    const metrics = emf.map((l) => ({
      task: l.task,
      ...Object.fromEntries(Object.entries(l).filter(([k]) => k.startsWith('Attempt'))),
    }));
    expect(metrics).toEqual([
      { task: 'orders.charge', AttemptSucceeded: 1 },
      { task: 'orders.charge', AttemptDuration: 12 },
      { task: 'orders.charge', AttemptRetried: 1 },
      { task: 'orders.charge', AttemptDuration: 5 },
    ]);
  });
});

describe('Powertools metrics per invocation', () => {
  it('GIVEN publish: invocation WHEN ten attempts end THEN nothing is written until the invocation ends, then one EMF line per task', async () => {
    capture();
    const middleware = metricsMiddleware(new Metrics({ namespace: 'spool', serviceName: 'spool-worker' }), {
      publish: 'invocation',
    });
    const event = {
      taskId: 't',
      task: 'orders.charge',
      attempt: 1,
      args: {},
      logger: fromPowertoolsLogger(new Logger()),
    };
    const handler = publishingMetrics(async () => {
      for (let i = 0; i < 9; i++) await middleware.afterRun?.({ ...event, result: 1, durationMs: i });
      await middleware.onFailure?.({ ...event, error: new Error('x'), willRetry: true, durationMs: 50 });
      expect(parsed().filter((l) => '_aws' in l)).toEqual([]);
      return 'done';
    }, middleware);
    await expect(handler({}, {})).resolves.toBe('done');
    const emf = parsed().filter((l) => '_aws' in l);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      service: 'spool-worker',
      task: 'orders.charge',
      AttemptSucceeded: 9,
      AttemptRetried: 1,
      AttemptDuration: [0, 1, 2, 3, 4, 5, 6, 7, 8, 50],
    });
  });
});
