import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createSpool, defineTask, silentLogger } from 'spool-tasks';
import { createSqsHandler } from 'spool-tasks/lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freshAwsBackend } from './resources.js';

type Fresh = Awaited<ReturnType<typeof freshAwsBackend>>;
const opened: Fresh[] = [];
afterEach(async () => {
  for (const f of opened.splice(0)) await f.backend.close();
});

/** Receive like the event source mapping and build the event it would hand the function. */
async function receiveEvent(fresh: Fresh, visibilityTimeoutSeconds: number, waitTimeSeconds = 2): Promise<SQSEvent> {
  const out = await fresh.backend.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: fresh.resources.queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: visibilityTimeoutSeconds,
      WaitTimeSeconds: waitTimeSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return { Records: (out.Messages ?? []).map((m) => toRecord(m, fresh.config.region)) };
}

function toRecord(m: Message, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? '0',
      SenderId: a.SenderId ?? 'test',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '0',
      ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
      ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        { stringValue: v.StringValue, dataType: v.DataType ?? 'String', stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:000000000000:queue.fifo`,
    awsRegion: region,
  };
}

/** Do what the event source mapping does with a partial batch response: delete the rest. */
async function applyResponse(fresh: Fresh, event: SQSEvent, failed: readonly string[]) {
  const done = event.Records.filter((r) => !failed.includes(r.messageId));
  if (done.length === 0) return;
  await fresh.backend.clients.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: fresh.resources.queueUrl,
      Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
    }),
  );
}

const context = (remainingMs: number) =>
  ({ getRemainingTimeInMillis: () => remainingMs, awsRequestId: 'req-1' }) as unknown as Context;

describe('the Lambda handler on real SQS messages', () => {
  it('GIVEN a batch with successes, a retry and a failing FIFO group WHEN handled THEN the partial batch response keeps order and the retry waits its backoff', async () => {
    const fresh = await freshAwsBackend();
    opened.push(fresh);
    const ran: string[] = [];
    const work = defineTask({
      name: 'work',
      schema: z.object({ name: z.string(), failFirst: z.boolean().default(false) }),
      idempotencyKey: false,
      retry: { maxAttempts: 3, minDelayMs: 2000, maxDelayMs: 2000 },
      handler: ({ name, failFirst }, ctx) => {
        if (failFirst && ctx.attempt === 1) throw new Error(`${name} fails once`);
        ran.push(name);
      },
    });
    const spool = createSpool({ backend: fresh.backend, tasks: [work], logger: silentLogger });
    await spool.enqueue(work, { name: 'a', failFirst: false });
    await spool.enqueue(work, { name: 'b', failFirst: false });
    await spool.enqueue(work, { name: 'g1', failFirst: true }, { orderingKey: 'g' });
    await spool.enqueue(work, { name: 'g2', failFirst: false }, { orderingKey: 'g' });
    const handler = createSqsHandler(spool);

    // WHEN the first batch is handled
    const event = await receiveEvent(fresh, 30);
    expect(event.Records).toHaveLength(4);
    const first = await handler(event, context(60_000));
    const failed = first.batchItemFailures.map((f) => f.itemIdentifier);
    await applyResponse(fresh, event, failed);

    // THEN a and b ran; g1 failed and g2 was returned unprocessed behind it
    expect(ran.sort()).toEqual(['a', 'b']);
    const byName = new Map(event.Records.map((r) => [JSON.parse(r.body).args.name as string, r.messageId]));
    expect(failed.sort()).toEqual([byName.get('g1'), byName.get('g2')].sort());
    // …and g1 is hidden for its 2 s backoff, not redelivered at once
    expect((await receiveEvent(fresh, 30, 0)).Records).toHaveLength(0);

    // WHEN the backoff has passed: g1, then g2, in order
    const order: string[] = [];
    for (let round = 0; round < 5 && order.length < 2; round++) {
      const next = await receiveEvent(fresh, 30, 5);
      const response = await handler(next, context(60_000));
      const nextFailed = response.batchItemFailures.map((f) => f.itemIdentifier);
      expect(nextFailed).toEqual([]);
      await applyResponse(fresh, next, nextFailed);
      order.push(...next.Records.map((r) => JSON.parse(r.body).args.name as string));
    }
    expect(order).toEqual(['g1', 'g2']);
    expect(ran).toEqual(['a', 'b', 'g1', 'g2']);
  });

  it('GIVEN 4 s left in the invocation and a handler that ignores its signal THEN the soft timeout fires first, the lease ends with the invocation, and the run is released before the deadline', async () => {
    const fresh = await freshAwsBackend();
    opened.push(fresh);
    let softReason: unknown;
    const slow = defineTask({
      name: 'slow',
      schema: z.object({}),
      leaseSeconds: 60,
      handler: async (_a, ctx) => {
        ctx.signal.addEventListener('abort', () => {
          softReason = ctx.signal.reason;
        });
        await new Promise((r) => setTimeout(r, 8000)); // ignores the signal
      },
    });
    const spool = createSpool({ backend: fresh.backend, tasks: [slow], logger: silentLogger });
    const handle = await spool.enqueue(slow, {});
    const event = await receiveEvent(fresh, 30);
    const started = Date.now();
    const running = handler(spool, event, 4000);
    let leaseSeen = 0;
    while (leaseSeen === 0) {
      leaseSeen = (await handle.info())?.leaseExpiresAt ?? 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    const response = await running;
    expect(Date.now() - started).toBeLessThan(4000);
    expect(leaseSeen - started).toBeLessThanOrEqual(5000 + 200); // not the task's 60 s
    expect((softReason as Error).name).toBe('TimeoutError');
    expect(response.batchItemFailures).toHaveLength(1);
    const info = await handle.info();
    expect(info?.state).toBe('retrying');
    expect(info?.error?.name).toBe('AttemptAbortedError');
  });
});

function handler(spool: Parameters<typeof createSqsHandler>[0], event: SQSEvent, remainingMs: number) {
  return createSqsHandler(spool)(event, context(remainingMs));
}
