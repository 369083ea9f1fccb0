/**
 * The receive time of a Lambda event's records (`receivedAt`, from which SQS counts its 12-hour
 * visibility limit): the receive of the invocation's batch, as `ApproximateFirstReceiveTimestamp`
 * of its first-time records tells it, on the app's clock. No AWS needed: the handler runs on an
 * embedded backend, and the event is built as the event source mapping would hand it over.
 */

import type { SQSRecord } from 'aws-lambda';
import { type Backend, createSpool, defineTask, type Queue, silentLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createSqsHandler } from 'spool-tasks/lambda';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fromLambdaEvent } from '../../lib/aws/lambda.js';

const HOUR_MS = 3_600_000;

/** A record as the event source mapping gives it (only what spool reads matters). */
function record(
  overrides: {
    count?: number;
    firstReceive?: number;
    body?: string;
    group?: string;
    dedup?: string;
    handle?: string;
  } = {},
): SQSRecord {
  const id = Math.random().toString(36).slice(2, 10);
  return {
    messageId: `m-${id}`,
    receiptHandle: overrides.handle ?? `handle-${id}`,
    body: overrides.body ?? '{}',
    attributes: {
      ApproximateReceiveCount: String(overrides.count ?? 1),
      SentTimestamp: String(Date.now() - 60_000),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(overrides.firstReceive ?? Date.now()),
      MessageGroupId: overrides.group ?? id,
      MessageDeduplicationId: overrides.dedup ?? id,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo',
    awsRegion: 'us-east-1',
  };
}

describe('receivedAt of a Lambda event', () => {
  it('GIVEN a batch with a first-time record and one first received 13 hours ago WHEN converted THEN both carry the batch receive time', () => {
    const now = Date.now();
    const messages = fromLambdaEvent({
      Records: [
        record({ count: 1, firstReceive: now - 3_000 }),
        record({ count: 4, firstReceive: now - 13 * HOUR_MS }),
      ],
    });
    for (const m of messages) {
      expect(m.receivedAt).toBeGreaterThanOrEqual(now - 3_000 - 50);
      expect(m.receivedAt).toBeLessThanOrEqual(Date.now() - 3_000 + 50);
    }
  });

  it('GIVEN two first-time records with different timestamps WHEN converted THEN the earlier one is the receive time', () => {
    const now = Date.now();
    const [a, b] = fromLambdaEvent(
      { Records: [record({ firstReceive: now - 2_000 }), record({ firstReceive: now - 5_000 })] },
      () => now,
    );
    expect(a?.receivedAt).toBe(b?.receivedAt);
    expect(a?.receivedAt).toBeLessThanOrEqual(now - 5_000 + 50);
    expect(a?.receivedAt).toBeGreaterThanOrEqual(now - 5_000 - 50);
  });

  it('GIVEN only records received before WHEN converted THEN no receive time is given (the processor assumes one)', () => {
    const now = Date.now();
    const messages = fromLambdaEvent({ Records: [record({ count: 2, firstReceive: now - 13 * HOUR_MS })] });
    expect(messages[0]).not.toHaveProperty('receivedAt');
  });

  it('GIVEN an app clock 6 hours ahead WHEN converted THEN the receive time is on that clock, with the age of the receive', () => {
    const offset = 6 * HOUR_MS;
    const clock = () => Date.now() + offset;
    const [m] = fromLambdaEvent({ Records: [record({ firstReceive: Date.now() - 10_000 })] }, clock);
    expect(m?.receivedAt).toBeGreaterThanOrEqual(clock() - 10_000 - 100);
    expect(m?.receivedAt).toBeLessThanOrEqual(clock() - 10_000 + 100);
  });

  it("GIVEN SQS's timestamp a little ahead of the local clock WHEN converted THEN the receive time is never in the future", () => {
    const now = Date.now();
    const [m] = fromLambdaEvent({ Records: [record({ firstReceive: now + 2_000 })] }, () => now);
    expect(m?.receivedAt).toBe(now);
  });

  it('GIVEN a batch received 11 h 59 min ago WHEN its run asks for a 1-hour retry THEN the message is hidden only for what is left of the 12 hours', async () => {
    const backend = openEmbeddedBackend({ path: ':memory:' });
    const changes: number[] = [];
    const tasks = backend.transport.tasks;
    const watched: Queue = {
      name: tasks.name,
      send: (m) => tasks.send(m),
      receive: (o) => tasks.receive(o),
      delete: (h) => tasks.delete(h),
      changeVisibility: (handle, seconds) => {
        changes.push(seconds);
        return tasks.changeVisibility(handle, seconds);
      },
      stats: () => tasks.stats(),
    };
    const transport = { ...backend.transport, tasks: watched };
    const wrapped = new Proxy(backend, {
      get: (target, key) => (key === 'transport' ? transport : Reflect.get(target, key)),
    }) satisfies Backend;
    const later = defineTask({
      name: 'later',
      schema: z.object({}),
      retry: { maxAttempts: 3, minDelayMs: HOUR_MS, maxDelayMs: HOUR_MS },
      handler: () => {
        throw new Error('not yet');
      },
    });
    const spool = createSpool({ backend: wrapped, tasks: [later], logger: silentLogger });
    try {
      await spool.enqueue(later, {});
      const [sent] = await tasks.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 1 });
      expect(sent).toBeDefined();
      if (sent === undefined) return;
      const firstReceive = Date.now() - (12 * HOUR_MS - 60_000);
      const event = {
        Records: [
          record({
            count: 1,
            firstReceive,
            body: sent.body,
            group: sent.groupId,
            dedup: sent.deduplicationId,
            handle: sent.receiptHandle,
          }),
        ],
      };
      const handler = createSqsHandler(spool);
      const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-1' } as never;
      const response = await handler(event, context);
      expect(response.batchItemFailures).toHaveLength(1);
      // 60 s were left of the window, less spool's margin: far less than the hour asked for.
      expect(changes.at(-1)).toBeGreaterThan(0);
      expect(changes.at(-1)).toBeLessThanOrEqual(60);
    } finally {
      await spool.close();
    }
  });
});
