/**
 * The Lambda handler: an SQS FIFO event (from the event source mapping) → the same processor as
 * the long-running worker → a partial batch response (`ReportBatchItemFailures`).
 *
 * - Message groups run as `lib/worker/groups.ts` says, the same as in the long-running worker:
 *   concurrently, each in order, the rest of a group handed back after a message that was not
 *   acknowledged; those are reported as the batch's item failures.
 * - The lease never outlasts the invocation by more than a second, so a timed-out invocation's
 *   runs are taken over promptly; the soft timeout fires 3 s before the Lambda's deadline, and
 *   at 1 s before, what still runs is interrupted and released.
 * - Each message's receive time (`receivedAt`, from which SQS counts its 12-hour visibility limit)
 *   is the receive of this invocation's batch, as the event tells it ({@link fromLambdaEvent}).
 *
 * @module
 */

import type { ReceivedMessage } from '../backend/transport.js';
import { GroupRunner } from '../worker/groups.js';
import type { Runtime } from '../worker/runtime.js';
import type {
  LambdaContext as Context,
  SqsBatchResponse as SQSBatchResponse,
  SqsEvent as SQSEvent,
  SqsRecord as SQSRecord,
} from './lambda-types.js';

/** An app as a handler runs it: anything carrying a {@link Runtime}, such as a `Spool`. */
export interface RunnableApp {
  readonly runtime: Runtime;
}

/** The app a handler runs: a Spool, or a function making one on the first invocation. */
export type AppSource = RunnableApp | (() => RunnableApp | Promise<RunnableApp>);

/** How long before the Lambda's deadline what still runs is interrupted and released, ms. */
export const RELEASE_BEFORE_DEADLINE_MS = 1000;

/**
 * Create the SQS event handler for an app. The app is made on the first invocation and reused
 * while the execution environment lives (no work at import time).
 *
 * @example
 * ```ts
 * // functions/worker.ts
 * export const handler = createSqsHandler(() => createApp({ backend: openAwsBackend() }));
 * ```
 */
export function createSqsHandler(
  source: AppSource,
  options: {
    /** Called at the start of each invocation (e.g. Powertools' `logger.addContext(context)`). */
    readonly onInvocation?: (context: Context) => void;
  } = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  let app: Promise<RunnableApp> | undefined;
  return async (event, context) => {
    options.onInvocation?.(context);
    app ??= Promise.resolve(typeof source === 'function' ? source() : source);
    const { runtime } = await app;
    const deadline = Date.now() + context.getRemainingTimeInMillis();
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), Math.max(0, deadline - Date.now() - RELEASE_BEFORE_DEADLINE_MS));
    try {
      const runner = new GroupRunner({
        runtime,
        workerId: `lambda:${context.awsRequestId}`,
        logger: runtime.logger.child({ invocation: context.awsRequestId }),
        interrupt: stop.signal,
        deadline,
        // The event source mapping deletes what the response does not report as failed.
        acknowledge: () => {},
      });
      const failures = await runner.runBatch(fromLambdaEvent(event, runtime.now));
      return { batchItemFailures: failures.map((m) => ({ itemIdentifier: m.messageId })) };
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The records of an event source mapping's event as the port's {@link ReceivedMessage}s, each with
 * the time the mapping received the batch, on the clock `now` (the app's).
 *
 * The event names no receive time as such. What it gives is each record's
 * `ApproximateFirstReceiveTimestamp`, SQS's time of the message's first receive ever: for a record
 * received for the first time (`ApproximateReceiveCount` 1) that is this receive; for one received
 * before it is earlier, by up to the whole life of the message, and taken as the receive it would
 * cut the 12-hour window short, to nothing past 12 hours (every visibility change refused, a retry
 * let come back at once). A FIFO event source mapping hands the function the messages of one
 * `ReceiveMessage` (it has no batching window), so the first receive of the batch's fresh records
 * is every record's receive: the earliest of them, for safety. A batch of records that were all
 * received before has no such time: their `receivedAt` is left out, and the processor assumes the
 * receive came at most 16 minutes before processing began (an invocation lasts at most 15).
 *
 * The timestamps are SQS's wall clock; each becomes an age (the wall clock now less the timestamp,
 * never below 0) counted back from `now()`, so that an app with its own clock gets receive times on
 * that clock, as its queues' receives do.
 */
export function fromLambdaEvent(event: SQSEvent, now: () => number = Date.now): ReceivedMessage[] {
  const fresh = event.Records.filter((r) => Number(r.attributes.ApproximateReceiveCount) === 1)
    .map((r) => Number(r.attributes.ApproximateFirstReceiveTimestamp))
    .filter((t) => Number.isFinite(t) && t > 0);
  if (fresh.length === 0) return event.Records.map((record) => fromLambdaRecord(record));
  const receivedAt = now() - Math.max(0, Date.now() - Math.min(...fresh));
  return event.Records.map((record) => fromLambdaRecord(record, receivedAt));
}

/**
 * An SQS record of a Lambda event as the port's {@link ReceivedMessage}.
 * @param receivedAt - when its batch was received, epoch ms on the app's clock (see {@link fromLambdaEvent}).
 *   @default none: the record alone does not tell
 */
export function fromLambdaRecord(record: SQSRecord, receivedAt?: number): ReceivedMessage {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value.stringValue !== undefined) attributes[key] = value.stringValue;
  }
  return {
    messageId: record.messageId,
    body: record.body,
    receiptHandle: record.receiptHandle,
    groupId: record.attributes.MessageGroupId ?? record.messageId,
    deduplicationId: record.attributes.MessageDeduplicationId ?? '',
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    sentAt: Number(record.attributes.SentTimestamp),
    ...(receivedAt === undefined ? {} : { receivedAt }),
    attributes,
  };
}
