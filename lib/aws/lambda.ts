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
      const failures = await runner.runBatch(event.Records.map(fromLambdaRecord));
      return { batchItemFailures: failures.map((m) => ({ itemIdentifier: m.messageId })) };
    } finally {
      clearTimeout(timer);
    }
  };
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
