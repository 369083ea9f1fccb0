/**
 * The phases of `npm run bench:cost` (bench/cost.ts): each runs tasks on the local endpoint with
 * the request counter attached and returns what it counted. Log bytes are what the worker's
 * logger (or, for the Lambda, Powertools on stdout) writes while the phase runs.
 */

import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import type { RequestCounter } from '../../lib/aws/cost.js';
import { createSqsHandler } from '../../lib/aws/lambda.js';
import type { LambdaContext, SqsRecord } from '../../lib/aws/lambda-types.js';
import { fromPowertoolsLogger, metricsMiddleware, publishingMetrics } from '../../lib/aws/powertools.js';
import type { Backend } from '../../lib/backend/backend.js';
import type { ReceivedMessage } from '../../lib/backend/transport.js';
import { createSpool } from '../../lib/client/spool.js';
import { createLogger, silentLogger } from '../../lib/log/logger.js';
import { defineTask } from '../../lib/task/define.js';

/** What a phase counted, per task. */
export interface PerTask {
  readonly tasks: number;
  readonly sqsRequests: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly logBytes: number;
  readonly logLines: number;
  readonly requests: ReadonlyMap<string, number>;
  readonly seconds: number;
}

/** Counts the bytes and lines a logger writes. */
export class LogMeter {
  bytes = 0;
  lines = 0;
  readonly write = (line: string): void => {
    this.bytes += Buffer.byteLength(line);
    this.lines += line.split('\n').filter((l) => l.length > 0).length;
  };
}

/** Distinct arguments in every phase and run: ids derived from arguments never meet the dedup window. */
let runs = 0;
const nonce = () => `${process.pid}-${Date.now().toString(36)}-${++runs}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function perTask(counter: RequestCounter, meter: LogMeter, tasks: number, seconds: number): PerTask {
  return {
    tasks,
    sqsRequests: counter.total('SQS') / tasks,
    writeUnits: counter.dynamoWriteUnits / tasks,
    readUnits: counter.dynamoReadUnits / tasks,
    logBytes: meter.bytes / tasks,
    logLines: meter.lines / tasks,
    requests: new Map(counter.requests),
    seconds,
  };
}

/** Options of the long-running worker phases. */
export interface WorkerPhase {
  readonly backend: Backend;
  readonly counter: RequestCounter;
  readonly concurrency: number;
}

/**
 * Bulk: `tasks` no-op tasks enqueued at once, then drained by the long-running worker (its logger
 * at the default level). `failFirst`: each task fails its first attempt and is retried at once.
 */
export async function bulk(p: WorkerPhase, tasks: number, options: { failFirst?: boolean } = {}): Promise<PerTask> {
  const RUN = nonce();
  const meter = new LogMeter();
  let done = 0;
  const noop = defineTask({
    name: options.failFirst ? 'flaky' : 'noop',
    schema: z.object({ i: z.number(), run: z.string() }),
    retry: { maxAttempts: 3, minDelayMs: 0, maxDelayMs: 0 },
    handler: (_args, ctx) => {
      if (options.failFirst && ctx.attempt === 1) throw new Error('first attempt fails');
      done++;
    },
  });
  const spool = createSpool({ backend: p.backend, tasks: [noop], logger: createLogger({ write: meter.write }) });
  p.counter.reset();
  await spool.enqueueMany(
    noop,
    Array.from({ length: tasks }, (_, i) => ({ i, run: RUN })),
  );
  const worker = spool.worker({ concurrency: p.concurrency, waitTimeSeconds: 20 });
  const t0 = Date.now();
  await worker.start();
  while (done < tasks) await sleep(20);
  await worker.stop();
  const result = perTask(p.counter, meter, tasks, (Date.now() - t0) / 1000);
  await spool.close();
  return result;
}

/**
 * Duplicate delivery: each of `tasks` runs is sent twice (two deduplication ids, as a producer's
 * retry after the 5-minute window or a redrive does). Per task: the run and its duplicate.
 */
export async function duplicates(p: WorkerPhase, tasks: number): Promise<PerTask> {
  const RUN = nonce();
  const meter = new LogMeter();
  let done = 0;
  const noop = defineTask({
    name: 'dup',
    schema: z.object({ i: z.number(), run: z.string() }),
    handler: () => void done++,
  });
  const spool = createSpool({ backend: p.backend, tasks: [noop], logger: createLogger({ write: meter.write }) });
  const queue = p.backend.transport.tasks;
  await spool.enqueueMany(
    noop,
    Array.from({ length: tasks }, (_, i) => ({ i, run: RUN })),
  );
  const received: ReceivedMessage[] = [];
  while (received.length < tasks) {
    received.push(...(await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60, waitTimeSeconds: 1 })));
  }
  await queue.delete(received.map((m) => m.receiptHandle));
  p.counter.reset();
  await queue.send(
    received.flatMap((m) => [
      { body: m.body, deduplicationId: `${m.deduplicationId}-a`, groupId: m.groupId },
      { body: m.body, deduplicationId: `${m.deduplicationId}-b`, groupId: m.groupId },
    ]),
  );
  const worker = spool.worker({ concurrency: p.concurrency, waitTimeSeconds: 20 });
  const t0 = Date.now();
  await worker.start();
  const acknowledged = () =>
    [...worker.counts.entries()].filter(([k]) => k.startsWith('already')).reduce((s, [, n]) => s + n, 0);
  while (done < tasks || acknowledged() < tasks) await sleep(20);
  await worker.stop();
  const result = perTask(p.counter, meter, tasks, (Date.now() - t0) / 1000);
  await spool.close();
  return result;
}

/**
 * A trickle: tasks enqueued one by one at `perSecond` for `seconds`, run by a long-running worker
 * that was already waiting; counted from the first enqueue until the worker has stopped.
 */
export async function trickle(p: WorkerPhase, perSecond: number, seconds: number): Promise<PerTask> {
  const RUN = nonce();
  const meter = new LogMeter();
  let done = 0;
  const noop = defineTask({
    name: 'trickle',
    schema: z.object({ i: z.number(), run: z.string() }),
    handler: () => void done++,
  });
  const spool = createSpool({ backend: p.backend, tasks: [noop], logger: createLogger({ write: meter.write }) });
  const worker = spool.worker({ concurrency: p.concurrency, waitTimeSeconds: 20 });
  await worker.start();
  await sleep(200); // the worker's first receive is waiting
  p.counter.reset();
  const tasks = Math.max(1, Math.round(perSecond * seconds));
  const t0 = Date.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < tasks; i++) {
    const due = t0 + (i * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    sends.push(spool.enqueue(noop, { i, run: RUN }));
  }
  await Promise.all(sends);
  while (done < tasks) await sleep(20);
  await worker.stop();
  const result = perTask(p.counter, meter, tasks, (Date.now() - t0) / 1000);
  await spool.close();
  return result;
}

/** The record the event source mapping would hand the Lambda for a received message. */
function toLambdaRecord(m: ReceivedMessage): SqsRecord {
  return {
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt),
      MessageGroupId: m.groupId,
      MessageDeduplicationId: m.deduplicationId,
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.attributes).map(([k, v]) => [k, { stringValue: v, dataType: 'String' }]),
    ),
    eventSource: 'aws:sqs',
  } as unknown as SqsRecord;
}

/**
 * The worker Lambda's own log lines: `tasks` no-op tasks run by `createSqsHandler` in batches of
 * 10, wired as functions/worker.ts wires it (Powertools Logger at its default level, with the
 * Lambda context; Powertools metrics), stdout and stderr captured. `publish`: the metrics
 * middleware's mode. The event source mapping's receives and deletes are made here, counted.
 */
export async function lambdaLogs(
  p: Omit<WorkerPhase, 'concurrency'>,
  tasks: number,
  publish: 'attempt' | 'invocation',
): Promise<PerTask & { readonly invocations: number }> {
  const RUN = nonce();
  const meter = new LogMeter();
  const noop = defineTask({
    name: 'orders.charge',
    schema: z.object({ i: z.number(), run: z.string() }),
    handler: () => {},
  });
  const logger = new PowertoolsLogger({ serviceName: 'spool-worker' });
  const metrics = metricsMiddleware(new Metrics({ namespace: 'spool', serviceName: 'spool-worker' }), { publish });
  const spool = createSpool({
    backend: p.backend,
    tasks: [noop],
    logger: fromPowertoolsLogger(logger),
    middleware: [metrics],
  });
  const handler = publishingMetrics(
    createSqsHandler(spool, { onInvocation: (context) => logger.addContext(context as never) }),
    metrics,
  );
  // Enqueued by a producer of its own: the Lambda's metrics count only what the Lambda does.
  const producer = createSpool({ backend: p.backend, tasks: [noop], logger: silentLogger });
  await producer.enqueueMany(
    noop,
    Array.from({ length: tasks }, (_, i) => ({ i, run: RUN })),
  );
  p.counter.reset();
  const queue = p.backend.transport.tasks;
  const t0 = Date.now();
  let run = 0;
  let invocations = 0;
  while (run < tasks) {
    const batch = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60, waitTimeSeconds: 1 });
    if (batch.length === 0) continue;
    const requestId = crypto.randomUUID();
    const context = {
      functionName: 'Spool-TasksWorker0A1B2C3D-AbCdEfGhIjKl',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Spool-TasksWorker0A1B2C3D-AbCdEfGhIjKl',
      memoryLimitInMB: '512',
      awsRequestId: requestId,
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as LambdaContext;
    process.env._X_AMZN_TRACE_ID = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1`;
    const restore = capture(meter);
    let response: { batchItemFailures: unknown[] };
    try {
      response = await handler({ Records: batch.map(toLambdaRecord) } as never, context);
    } finally {
      restore();
    }
    if (response.batchItemFailures.length > 0) throw new Error('bench:cost: a no-op task failed in the Lambda phase');
    await queue.delete(batch.map((m) => m.receiptHandle)); // as the event source mapping does
    run += batch.length;
    invocations++;
  }
  delete process.env._X_AMZN_TRACE_ID;
  const result = { ...perTask(p.counter, meter, tasks, (Date.now() - t0) / 1000), invocations };
  await spool.close();
  return result;
}

/** Send what stdout and stderr are given to `meter` instead; returns the undo. */
function capture(meter: LogMeter): () => void {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const sink = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    meter.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = sink;
  process.stderr.write = sink;
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
}
