/**
 * The queue port on an SQS FIFO queue.
 *
 * - `send`: `SendMessageBatch`, 10 messages (and at most 1 MiB) per call, calls in parallel; entries
 *   SQS reports as failed are sent again (3 tries) before `send` rejects.
 * - `receive`: `ReceiveMessage` with long polling; system attributes give the receive count, the
 *   send time, the group and the deduplication id. The receive time is the queue's clock (`now`)
 *   just before the request (SQS's 12-hour visibility limit counts from when it gets the request, a
 *   moment later), and travels in the receipt handle spool hands out: `<receive time, base 36>~<SQS's
 *   handle>` (SQS's handles are base64, without `~`); `delete` and `changeVisibility` take it off.
 *   **An abort does not cut a request short**: SQS cannot end a long poll early. Aborting the HTTP
 *   request only closes the connection, while the server's `ReceiveMessage` goes on for the rest of
 *   its wait and takes the messages that become visible meanwhile (a message a stopping worker has
 *   just released, or one sent after), which then stay hidden for their visibility timeout with
 *   nobody to process them (aws-sdk-js#2350). So a receive whose signal aborts once its request is
 *   out waits for SQS's answer (at most `waitTimeSeconds`, plus the round trip) and returns what it
 *   got, as the port asks ("returns what was received"); a signal already aborted sends nothing.
 * - `delete`: `DeleteMessageBatch`; entries that fail because the receipt handle is stale are ignored.
 * - `changeVisibility`: resolves `false` for a stale receipt handle. A timeout that would end more
 *   than 12 hours after the receive is refused before any request, as the embedded queue refuses it
 *   (SQS refuses it too, but with the code it gives an expired receipt handle, so it could not be
 *   told from a stale one). A bare SQS handle (a Lambda event's) is passed through unchecked.
 *
 * @module
 */

import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { OutgoingMessage, Queue, QueueStats, ReceivedMessage, ReceiveOptions } from '../backend/transport.js';
import { MAX_BATCH, MAX_MESSAGE_BYTES, messageBytes, visibilityLimitProblem } from '../backend/transport.js';
import { ConfigurationError, SpoolError } from '../task/errors.js';

/** Most `SendMessageBatch` calls one `send` has in flight at once. */
const SEND_PARALLELISM = 16;
/** Error codes SQS gives for a receipt handle that is no longer the message's current one. */
const STALE_RECEIPT = /ReceiptHandleIsInvalid|MessageNotInflight|receipt handle has expired|InvalidParameterValue/i;

/** Between the receive time and SQS's receipt handle in the handles {@link SqsQueue.receive} gives. */
const RECEIPT_SEPARATOR = '~';

/** An SQS FIFO queue as a spool {@link Queue}. */
export class SqsQueue implements Queue {
  readonly name: string;
  readonly #client: SQSClient;
  readonly #url: string;
  readonly #now: () => number;

  /**
   * @param url - the queue URL (ending `.fifo`).
   * @param now - the clock receive times are read from and the 12-hour limit is checked against, epoch
   *   ms: the backend's (`openAwsBackend({ now })`), which is also the app's and its workers'. @default Date.now
   */
  constructor(client: SQSClient, url: string, now: () => number = Date.now) {
    this.#client = client;
    this.#url = url;
    this.#now = now;
    this.name = url.slice(url.lastIndexOf('/') + 1);
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    const batches = toBatches(messages);
    for (let i = 0; i < batches.length; i += SEND_PARALLELISM) {
      await Promise.all(batches.slice(i, i + SEND_PARALLELISM).map((batch) => this.#sendBatch(batch)));
    }
  }

  async #sendBatch(batch: readonly OutgoingMessage[]): Promise<void> {
    let entries: SendMessageBatchRequestEntry[] = batch.map((m, i) => ({
      Id: String(i),
      MessageBody: m.body,
      MessageDeduplicationId: m.deduplicationId,
      MessageGroupId: m.groupId,
      ...(m.attributes === undefined ? {} : { MessageAttributes: toAttributes(m.attributes) }),
    }));
    for (let attempt = 1; ; attempt++) {
      const out = await this.#client.send(new SendMessageBatchCommand({ QueueUrl: this.#url, Entries: entries }));
      const failed = out.Failed ?? [];
      if (failed.length === 0) return;
      const permanent = failed.filter((f) => f.SenderFault);
      if (permanent.length > 0 || attempt === 3) {
        const first = permanent[0] ?? failed[0];
        throw new SpoolError(
          `SQS refused ${failed.length} of ${entries.length} messages for ${this.name}: ${first?.Code}: ${first?.Message}` +
            (permanent.length > 0 ? '' : ' (after 3 tries)'),
        );
      }
      const retry = new Set(failed.map((f) => f.Id));
      entries = entries.filter((e) => retry.has(e.Id));
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    if (options.signal?.aborted) return [];
    const receivedAt = this.#now();
    // No abortSignal for the SDK: the server's receive would go on without us (see the module's header).
    const out = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#url,
        MaxNumberOfMessages: options.maxMessages,
        VisibilityTimeout: options.visibilityTimeoutSeconds,
        WaitTimeSeconds: options.waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return (out.Messages ?? []).map((message) => receivedFrom(message, receivedAt));
  }

  async delete(receiptHandles: readonly string[]): Promise<void> {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < receiptHandles.length; i += MAX_BATCH) {
      const entries = receiptHandles
        .slice(i, i + MAX_BATCH)
        .map((handle, n) => ({ Id: String(n), ReceiptHandle: splitReceipt(handle).handle }));
      calls.push(
        this.#client.send(new DeleteMessageBatchCommand({ QueueUrl: this.#url, Entries: entries })).then((out) => {
          const failed = (out.Failed ?? []).filter((f) => !STALE_RECEIPT.test(`${f.Code} ${f.Message}`));
          if (failed.length > 0) {
            throw new SpoolError(
              `SQS could not delete ${failed.length} message(s) from ${this.name}: ${failed[0]?.Code}`,
            );
          }
        }),
      );
    }
    await Promise.all(calls);
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<boolean> {
    const { handle, receivedAt } = splitReceipt(receiptHandle);
    if (receivedAt !== undefined) {
      const where = `SqsQueue ${this.name}: changeVisibility`;
      const problem = visibilityLimitProblem(where, receivedAt, this.#now(), visibilityTimeoutSeconds);
      if (problem !== undefined) throw new ConfigurationError(problem);
    }
    try {
      await this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.#url,
          ReceiptHandle: handle,
          VisibilityTimeout: visibilityTimeoutSeconds,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && STALE_RECEIPT.test(`${error.name} ${error.message}`)) return false;
      throw error;
    }
  }

  async stats(): Promise<QueueStats> {
    const out = await this.#client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }
}

/** Split messages into batches of at most 10 messages and 1 MiB (SQS's limits per SendMessageBatch). */
function toBatches(messages: readonly OutgoingMessage[]): OutgoingMessage[][] {
  const batches: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (current.length === MAX_BATCH || (current.length > 0 && bytes + size > MAX_MESSAGE_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function toAttributes(attributes: Readonly<Record<string, string>>) {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]));
}

/** A message {@link SqsQueue.receive} got: its receive time, also carried in its receipt handle. */
function receivedFrom(message: Message, receivedAt: number): ReceivedMessage {
  const received = fromSqs(message, receivedAt);
  const time = Math.floor(receivedAt).toString(36);
  return { ...received, receiptHandle: `${time}${RECEIPT_SEPARATOR}${received.receiptHandle}`, receivedAt };
}

/** SQS's receipt handle, and the receive time when the handle carries one (see {@link SqsQueue.receive}). */
function splitReceipt(receiptHandle: string): { readonly handle: string; readonly receivedAt?: number } {
  const at = receiptHandle.indexOf(RECEIPT_SEPARATOR);
  if (at <= 0) return { handle: receiptHandle };
  const time = receiptHandle.slice(0, at);
  const receivedAt = Number.parseInt(time, 36);
  if (!/^[0-9a-z]+$/.test(time) || !Number.isSafeInteger(receivedAt)) return { handle: receiptHandle };
  return { handle: receiptHandle.slice(at + 1), receivedAt };
}

/**
 * An SQS message as the port's {@link ReceivedMessage} (without a receive time: see {@link SqsQueue.receive}).
 * @param now - stands in for a missing `SentTimestamp` (SQS always gives it when asked), epoch ms. @default Date.now()
 */
export function fromSqs(message: Message, now: number = Date.now()): ReceivedMessage {
  const system = message.Attributes ?? {};
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (value.StringValue !== undefined) attributes[key] = value.StringValue;
  }
  return {
    messageId: message.MessageId ?? '',
    body: message.Body ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    groupId: system.MessageGroupId ?? '',
    deduplicationId: system.MessageDeduplicationId ?? '',
    receiveCount: Number(system.ApproximateReceiveCount ?? 1),
    sentAt: Number(system.SentTimestamp ?? now),
    attributes,
  };
}
