/**
 * The Lambda handler: an SQS FIFO event (from the event source mapping) → the same processor as
 * the long-running worker → a partial batch response (`ReportBatchItemFailures`).
 *
 * - Message groups of the batch run concurrently; the messages of one group run one after
 *   another, in order. After a message that is not acknowledged (a retry, or a backend error), the
 *   rest of its group is returned unprocessed, so order is kept — Powertools'
 *   `SqsFifoPartialProcessor` rule, without its one-message-at-a-time processing of the whole batch.
 * - A retry sets the message's visibility to the backoff delay before it is reported as failed.
 * - The lease never outlasts the invocation by more than a second, so a timed-out invocation's
 *   runs are taken over promptly; the soft timeout fires 3 s before the Lambda's deadline, and
 *   at 1 s before, what still runs is interrupted and released.
 *
 * @module
 */

import type { ReceivedMessage } from '../backend/transport.js';
import type { Spool } from '../client/spool.js';
import { processMessage } from '../worker/processor.js';
import type {
  LambdaContext as Context,
  SqsBatchResponse as SQSBatchResponse,
  SqsEvent as SQSEvent,
  SqsRecord as SQSRecord,
} from './lambda-types.js';

/** The app a handler runs: a Spool, or a function making one on the first invocation. */
export type AppSource = Spool | (() => Spool | Promise<Spool>);

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
  let app: Promise<Spool> | undefined;
  return async (event, context) => {
    options.onInvocation?.(context);
    app ??= Promise.resolve(typeof source === 'function' ? source() : source);
    const spool = await app;
    const deadline = Date.now() + context.getRemainingTimeInMillis();
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), Math.max(0, deadline - Date.now() - RELEASE_BEFORE_DEADLINE_MS));
    try {
      const failures = await processBatch(
        spool,
        event.Records.map(fromLambdaRecord),
        stop.signal,
        deadline,
        context.awsRequestId,
      );
      return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Process one batch; resolves the message ids to report as failed. */
export async function processBatch(
  spool: Spool,
  messages: readonly ReceivedMessage[],
  stop: AbortSignal,
  deadline: number,
  invocationId: string,
): Promise<string[]> {
  const queue = spool.backend.transport.tasks;
  const deps = {
    tasks: spool.tasks,
    store: spool.backend.store,
    deadLetters: spool.backend.transport.deadLetters,
    queue: spool.backend.transport.tasks,
    middleware: spool.middleware,
    logger: spool.logger.child({ invocation: invocationId }),
    now: spool.now,
    workerId: `lambda:${invocationId}`,
  };
  const groups = new Map<string, ReceivedMessage[]>();
  for (const m of messages) groups.set(m.groupId, [...(groups.get(m.groupId) ?? []), m]);
  const failed = await Promise.all(
    [...groups.values()].map(async (group) => {
      for (const [index, message] of group.entries()) {
        let acknowledged = false;
        try {
          const disposition = await processMessage(deps, message, {
            extendVisibility: async (seconds) => {
              await queue.changeVisibility(message.receiptHandle, seconds);
            },
            stop,
            deadline,
          });
          if (disposition.kind === 'retry')
            await queue.changeVisibility(message.receiptHandle, disposition.delaySeconds);
          acknowledged = disposition.kind === 'ack';
        } catch (error) {
          deps.logger.error('processing failed in the backend; the message will be delivered again', {
            messageId: message.messageId,
            error,
          });
        }
        if (!acknowledged) {
          // The rest of the group waits behind this message: visible again at once, so it follows
          // as soon as this one is done instead of after a whole visibility timeout.
          const rest = group.slice(index + 1);
          await Promise.allSettled(rest.map((m) => queue.changeVisibility(m.receiptHandle, 0)));
          return group.slice(index).map((m) => m.messageId);
        }
      }
      return [];
    }),
  );
  return failed.flat();
}

/** An SQS record of a Lambda event as the port's {@link ReceivedMessage}. */
export function fromLambdaRecord(record: SQSRecord): ReceivedMessage {
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
    attributes,
  };
}
