/**
 * {@link EmbeddedQueue}: one SQS FIFO queue (see `lib/backend/transport.ts`) in the embedded SQLite
 * file. Every queue shares the `messages` table and the `dedup` table. A queue owns one range of
 * `seq` (the rowid, see {@link SEQ_RANGE}), so the table itself is in (queue, send order) order.
 *
 * - A message is **deliverable** when `visible_at ≤ now` and no message of its group is in flight
 *   (received at least once and `visible_at > now`). Deliverable messages go out in send order
 *   (`seq`); one receive may return several consecutive messages of one group.
 * - Selecting and marking (new `visible_at`, `receive_count + 1`) is one write of one
 *   `BEGIN IMMEDIATE` transaction, so two connections never receive the same message. Every write
 *   (send, receive, delete, changeVisibility) goes through the database's group commit and
 *   resolves after its COMMIT. The receives of one queue requested in the same turn share one
 *   write and one selection, shared out in send order with each message group kept in one receive
 *   (as if they had run one after another).
 * - A receipt handle is `<seq>.<receive count>.<receive time>`: every receive changes it (the count
 *   only grows), so a stale one matches no row. The receive time (epoch ms) is what SQS's
 *   12-hour visibility limit counts from: `changeVisibility` refuses a timeout that would end more
 *   than `MAX_VISIBILITY_SECONDS` after it, as SQS does (a `ConfigurationError` that says how much
 *   is left). A handle without it (`<seq>.<count>`, from an older spool) is not checked. (Schema
 *   versions before 3 kept a random receipt in column `receipt`, unused since.)
 * - Deduplication ids are kept per queue and message group (`DEDUPLICATION_SCOPE`, as the queue
 *   the construct deploys): the same id in two groups is two messages.
 * - Expired deduplication ids are swept by the sends, amortised over the ids they add: once
 *   {@link SWEEP_EVERY} ids have been added, up to {@link SWEEP_RATE} expired ids per id added are
 *   deleted (at most {@link SWEEP_LIMIT}), so a bulk send sweeps as much as single sends would.
 * - Long polling polls the file with an adaptive sleep (5 → 50 ms by default, see {@link LongPollOptions})
 *   and wakes at once when a commit makes messages of the queue receivable: of this process (the
 *   database's event channel) or of another (`wake.ts`: before its first sleep a receive registers
 *   for a UDP datagram, then polls once more). The timer stays as the fallback: a lost wake-up only
 *   costs latency.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import {
  DEDUPLICATION_WINDOW_MS,
  MAX_BATCH,
  MAX_MESSAGE_BYTES,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
  messageBytes,
  type OutgoingMessage,
  type Queue,
  type QueueStats,
  type ReceivedMessage,
  type ReceiveOptions,
  visibilityLimitProblem,
} from '../backend/transport.js';
import { FIFO_ID_FORMAT, FIFO_ID_PATTERN } from '../protocol/ids.js';
import { ConfigurationError } from '../task/errors.js';
import type { EmbeddedDatabase } from './database.js';
import { runWrite } from './database.js';
import { type LongPollOptions, POLL_SLEEP_GROWTH, pollSleeps } from './long-poll.js';
import { wakeEvent } from './wake.js';

/** Where a queue moves messages received too often (SQS's redrive policy). */
export interface RedrivePolicy {
  /** Name of the dead-letter queue (in the same file). */
  readonly deadLetterQueue: string;
  /** A message received this many times moves to the dead-letter queue on its next receive. */
  readonly maxReceiveCount: number;
}

/** Options of {@link EmbeddedQueue}. */
export interface EmbeddedQueueOptions {
  /** The queue's name (the `queue` column). */
  readonly name: string;
  /** Redrive policy; none means messages are redelivered forever. */
  readonly redrive?: RedrivePolicy;
  /** Clock for visibility and deduplication, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** The fallback polling of long polls. @default { firstSleepMs: 5, maxSleepMs: 50 } */
  readonly longPoll?: LongPollOptions;
}

/** A message as `select` reads it: a raw row (positional, no per-row object keys). */
type MessageRow = [
  seq: number,
  message_id: string,
  group_id: string,
  dedup_id: string,
  body: string,
  attributes: string | null,
  sent_at: number,
  receive_count: number,
];

interface StatsRow {
  readonly total: number;
  readonly in_flight: number;
}

/** Messages per send write (with `MAX_TRANSACTION_WEIGHT`, bounds how long one transaction holds the write lock). */
const SEND_CHUNK = 500;
/**
 * Sweep expired deduplication ids once this many have been added since the last sweep (by this
 * queue's sends, single or bulk alike): one sweep per {@link SWEEP_EVERY} ids, not per send.
 */
const SWEEP_EVERY = 64;
/**
 * Each sweep deletes up to this many expired ids per id added since the last one: twice the rate
 * ids come in, so a backlog (a file written by an older spool, a burst) drains while sends go on.
 */
const SWEEP_RATE = 2;
/** Most deduplication ids one sweep deletes (bounds how long a sweep holds the write lock). */
const SWEEP_LIMIT = 2 * SEND_CHUNK;

/**
 * Each queue owns the `seq` (rowid) range `[id·2⁴⁰, (id+1)·2⁴⁰)`, `id` from table `queues`: the
 * table itself is then ordered by (queue, send order), and no index on `queue` is needed.
 */
const SEQ_RANGE = 2 ** 40;
/** Highest queue id that keeps every `seq` a safe integer. */
const MAX_QUEUE_ID = Math.floor(Number.MAX_SAFE_INTEGER / SEQ_RANGE) - 1;

/**
 * The deliverable messages of a queue. Positional parameters, in this order: `lo`, `hi` (the
 * queue's `seq` range), `now`, `queue`, `now` again (see {@link readyParams}).
 */
const READY = `
  FROM messages AS m NOT INDEXED
  WHERE m.seq >= ? AND m.seq < ? AND m.visible_at <= ? AND NOT EXISTS (
    SELECT 1 FROM messages AS f INDEXED BY messages_received
    WHERE f.queue = ? AND f.group_id = m.group_id AND f.visible_at > ? AND f.receive_count > 0
  )`;

/** The parameters of {@link READY}. */
type ReadyParams = [lo: number, hi: number, now: number, queue: string, now: number];

function readyParams(range: { readonly lo: number; readonly hi: number }, queue: string, now: number): ReadyParams {
  return [range.lo, range.hi, now, queue, now];
}

/** A receive waiting for its queue's next receive write (see {@link EmbeddedQueue}). */
interface ReceiveRequest {
  readonly max: number;
  readonly visibilityMs: number;
  /** Filled by the write. */
  readonly received: ReceivedMessage[];
}

/** What one receive write did, for every receive it served. */
interface ReceiveWrite {
  /** Every receive got as many messages as it asked for (the queue may hold more). */
  readonly full: boolean;
}

/** One FIFO queue of the embedded backend. */
export class EmbeddedQueue implements Queue {
  /** The queue's name. */
  readonly name: string;
  readonly #db: EmbeddedDatabase;
  readonly #redrive: RedrivePolicy | undefined;
  readonly #now: () => number;
  readonly #firstSleepMs: number;
  readonly #maxSleepMs: number;
  readonly #sendTx: (messages: readonly OutgoingMessage[]) => void;
  readonly #receiveTx: (requests: readonly ReceiveRequest[]) => ReceiveWrite;
  readonly #deleteTx: (handles: readonly string[]) => void;
  readonly #changeVisibility: (receipt: Receipt, visibleAt: number) => number;
  readonly #peek: (now: number) => unknown;
  readonly #stats: (now: number) => StatsRow;
  /** Deduplication ids added since the last sweep. */
  #unswept = 0;
  #busy = false;
  /** Receives of this turn, served together by {@link #receiveWrite}. */
  #pendingReceives: ReceiveRequest[] = [];
  #receiveWrite: Promise<ReceiveWrite> | undefined;

  /** Bind the queue `options.name` of `db` (prepares its statements once). */
  constructor(db: EmbeddedDatabase, options: EmbeddedQueueOptions) {
    if (options.name.length === 0) {
      throw new ConfigurationError('EmbeddedQueue: the queue name is empty. Pass a name, e.g. { name: "spool" }.');
    }
    const redrive = options.redrive;
    if (redrive && (!Number.isInteger(redrive.maxReceiveCount) || redrive.maxReceiveCount < 1)) {
      throw new ConfigurationError(
        `EmbeddedQueue ${options.name}: maxReceiveCount must be an integer ≥ 1, got ${String(redrive.maxReceiveCount)}. ` +
          'It is how many receives a message gets before it moves to the dead-letter queue.',
      );
    }
    this.name = options.name;
    [this.#firstSleepMs, this.#maxSleepMs] = pollSleeps(options.name, options.longPoll);
    this.#db = db;
    this.#redrive = redrive;
    this.#now = options.now ?? Date.now;
    const sqlite = db.sqlite;
    const queue = this.name;
    const range = seqRange(db, queue);
    const deadLetterRange = redrive ? seqRange(db, redrive.deadLetterQueue) : range;

    const claimDedup = sqlite.prepare<[string, string, string, number, number]>(
      `INSERT INTO dedup (queue, group_id, dedup_id, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (queue, group_id, dedup_id) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?`,
    );
    const lastSeq = sqlite
      .prepare<{ lo: number; hi: number }, number>(
        'SELECT coalesce(max(seq), @lo) FROM messages WHERE seq >= @lo AND seq < @hi',
      )
      .pluck();
    const insert = sqlite.prepare<[number, string, string, string, string, string, string | null, number, number]>(
      `INSERT INTO messages (seq, queue, message_id, group_id, dedup_id, body, attributes, sent_at, visible_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const sweep = sqlite.prepare<[number, number]>(
      `DELETE FROM dedup WHERE (queue, group_id, dedup_id) IN
       (SELECT queue, group_id, dedup_id FROM dedup WHERE expires_at <= ? LIMIT ?)`,
    );
    const select = sqlite
      .prepare<[...ReadyParams, limit: number], MessageRow>(
        `SELECT m.seq, m.message_id, m.group_id, m.dedup_id, m.body, m.attributes, m.sent_at, m.receive_count
         ${READY} ORDER BY m.seq LIMIT ?`,
      )
      .raw();
    const peek = sqlite.prepare<ReadyParams>(`SELECT 1 ${READY} LIMIT 1`).pluck();
    const mark = sqlite.prepare<[number, number]>(
      'UPDATE messages SET visible_at = ?, receive_count = receive_count + 1 WHERE seq = ?',
    );
    const moveOut = sqlite.prepare<[number, string, number, number]>(
      `INSERT INTO messages (seq, queue, message_id, group_id, dedup_id, body, attributes, sent_at, visible_at)
       SELECT ?, ?, message_id, group_id, dedup_id, body, attributes, sent_at, ? FROM messages WHERE seq = ?`,
    );
    const remove = sqlite.prepare<[number]>('DELETE FROM messages WHERE seq = ?');
    const removeByHandle = sqlite.prepare<[number, string, number]>(
      'DELETE FROM messages WHERE seq = ? AND queue = ? AND receive_count = ?',
    );
    const hide = sqlite.prepare<[number, number, string, number]>(
      'UPDATE messages SET visible_at = ? WHERE seq = ? AND queue = ? AND receive_count = ?',
    );
    const stats = sqlite.prepare<{ lo: number; hi: number; now: number }, StatsRow>(
      `SELECT count(*) AS total, coalesce(sum(visible_at > @now AND receive_count > 0), 0) AS in_flight
       FROM messages WHERE seq >= @lo AND seq < @hi`,
    );

    this.#sendTx = (messages: readonly OutgoingMessage[]) => {
      const now = this.#now();
      let seq = lastSeq.get(range) ?? range.lo;
      const first = seq;
      for (const message of messages) {
        const fresh = claimDedup.run(
          queue,
          message.groupId,
          message.deduplicationId,
          now + DEDUPLICATION_WINDOW_MS,
          now,
        );
        if (fresh.changes === 0) continue;
        const attributes = message.attributes;
        const attributesJson = attributes && Object.keys(attributes).length > 0 ? JSON.stringify(attributes) : null;
        seq += 1;
        insert.run(
          seq,
          queue,
          randomUUID(),
          message.groupId,
          message.deduplicationId,
          message.body,
          attributesJson,
          now,
          now,
        );
      }
      if (seq !== first) db.wakeOnCommit(queue);
      // Amortised: a sweep per SWEEP_EVERY ids added, deleting up to SWEEP_RATE per id added.
      this.#unswept += seq - first;
      if (this.#unswept >= SWEEP_EVERY) {
        sweep.run(now, Math.min(SWEEP_LIMIT, SWEEP_RATE * this.#unswept));
        this.#unswept = 0;
      }
    };

    this.#receiveTx = (requests: readonly ReceiveRequest[]) => {
      const now = this.#now();
      // Closed while these receives waited for their transaction: take nothing.
      if (db.closed.aborted) return { full: false };
      // The receive each message group went to: a group's messages stay in one receive, in order.
      const groups = new Map<string, ReceiveRequest>();
      let next = 0;
      for (;;) {
        let wanted = 0;
        for (const request of requests) wanted += request.max - request.received.length;
        if (wanted === 0) return { full: true };
        const rows = select.all(...readyParams(range, queue, now), wanted);
        let movedNow = false;
        for (const row of rows) {
          const seq = row[0];
          if (this.#redrive && row[7] >= this.#redrive.maxReceiveCount) {
            const deadLetterSeq = (lastSeq.get(deadLetterRange) ?? deadLetterRange.lo) + 1;
            moveOut.run(deadLetterSeq, this.#redrive.deadLetterQueue, now, seq);
            remove.run(seq);
            movedNow = true;
            continue;
          }
          let request = groups.get(row[2]);
          if (request === undefined) {
            while (next < requests.length && isFull(requests[next] as ReceiveRequest)) next += 1;
            request = requests[next];
            if (request === undefined) break;
            groups.set(row[2], request);
          }
          // Its group's receive is full: the rest of the group waits (the group is in flight now).
          if (isFull(request)) continue;
          mark.run(now + request.visibilityMs, seq);
          request.received.push(toReceived(row, now));
        }
        // Without a move the selection already returned every deliverable message (up to `wanted`).
        if (!movedNow) return { full: requests.every(isFull) };
        if (this.#redrive) db.wakeOnCommit(this.#redrive.deadLetterQueue);
      }
    };

    this.#deleteTx = (handles: readonly string[]) => {
      for (const handle of handles) {
        const receipt = parseReceipt(handle);
        if (receipt !== undefined) removeByHandle.run(receipt.seq, queue, receipt.receiveCount);
      }
    };
    this.#changeVisibility = (receipt, visibleAt) =>
      hide.run(visibleAt, receipt.seq, queue, receipt.receiveCount).changes;
    this.#peek = (now) => peek.get(...readyParams(range, queue, now));
    this.#stats = (now) => stats.get({ ...range, now }) ?? { total: 0, in_flight: 0 };
  }

  /** Send messages (validated first: nothing is sent if one is invalid). Duplicates within 5 minutes are dropped. */
  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    for (const [index, message] of messages.entries()) validateMessage(this.name, message, index);
    if (messages.length === 0) return;
    const chunks: Promise<void>[] = [];
    for (let start = 0; start < messages.length; start += SEND_CHUNK) {
      const chunk = messages.slice(start, start + SEND_CHUNK);
      chunks.push(this.#db.write(() => this.#sendTx(chunk), chunk.length));
    }
    await Promise.all(chunks);
  }

  /** Receive up to `maxMessages` deliverable messages, long-polling up to `waitTimeSeconds` for the first. */
  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const where = `EmbeddedQueue ${this.name}: receive`;
    checkInteger(where, 'maxMessages', options.maxMessages, 1, MAX_BATCH);
    checkInteger(where, 'visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS);
    checkInteger(where, 'waitTimeSeconds', options.waitTimeSeconds, 0, MAX_WAIT_SECONDS);
    const deadline = performance.now() + options.waitTimeSeconds * 1000;
    const visibilityMs = options.visibilityTimeoutSeconds * 1000;
    let sleepMs = this.#firstSleepMs;
    for (;;) {
      if (this.#db.closed.aborted) return [];
      const received = await this.#receiveOnce(options.maxMessages, visibilityMs);
      if (received.length > 0) return received;
      const remaining = deadline - performance.now();
      if (remaining <= 0 || options.signal?.aborted) return [];
      // Other processes' sends wake this receive only once it is registered: after registering, look again.
      const registering = this.#db.listen(this.name);
      if (registering !== undefined) {
        await registering;
        continue;
      }
      const woken = await this.#sleep(Math.min(sleepMs, remaining), options.signal);
      sleepMs = woken ? this.#firstSleepMs : Math.min(sleepMs * POLL_SLEEP_GROWTH, this.#maxSleepMs);
    }
  }

  /** Delete received messages; stale or unknown receipt handles are ignored. */
  async delete(receiptHandles: readonly string[]): Promise<void> {
    if (receiptHandles.length > 0) await this.#db.write(() => this.#deleteTx(receiptHandles), receiptHandles.length);
  }

  /** Hide a received message for `visibilityTimeoutSeconds` from now; `false` when the handle is stale. */
  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<boolean> {
    const where = `EmbeddedQueue ${this.name}: changeVisibility`;
    checkInteger(where, 'visibilityTimeoutSeconds', visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS);
    const receipt = parseReceipt(receiptHandle);
    if (receipt === undefined) return false;
    if (receipt.receivedAt !== undefined) {
      const problem = visibilityLimitProblem(where, receipt.receivedAt, this.#now(), visibilityTimeoutSeconds);
      if (problem !== undefined) throw new ConfigurationError(problem);
    }
    return this.#db.write(() => {
      const changed = this.#changeVisibility(receipt, this.#now() + visibilityTimeoutSeconds * 1000) > 0;
      if (changed && visibilityTimeoutSeconds === 0) this.#db.wakeOnCommit(this.name);
      return changed;
    });
  }

  /** Counts: `visible` = messages not in flight, `inFlight` = received with visibility not expired. */
  async stats(): Promise<QueueStats> {
    const row = this.#stats(this.#now());
    return { visible: row.total - row.in_flight, inFlight: row.in_flight };
  }

  async #receiveOnce(max: number, visibilityMs: number): Promise<ReceivedMessage[]> {
    // Unless the last receive came back full, a read outside the write lock first: idle pollers never
    // contend for the lock.
    if (!this.#busy && this.#peek(this.#now()) === undefined) return [];
    const request: ReceiveRequest = { max, visibilityMs, received: [] };
    const requests = this.#pendingReceives;
    requests.push(request);
    // The first receive of the turn asks for the write; it serves every receive that joins before it runs.
    let write = this.#receiveWrite;
    if (requests.length === 1 || write === undefined) {
      write = this.#db.write(() => {
        if (this.#pendingReceives === requests) this.#pendingReceives = [];
        // Run again after a rollback (another write of the transaction failed): start over.
        for (const r of requests) r.received.length = 0;
        return this.#receiveTx(requests);
      }, MAX_BATCH);
      this.#receiveWrite = write;
    }
    const { full } = await write;
    this.#busy = full;
    return request.received;
  }

  /** Sleep up to `ms`; resolves `true` when woken early by a send to this queue. */
  #sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      const events = this.#db.events;
      const closed = this.#db.closed;
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        events.off(wakeEvent(this.name), onWake);
        signal?.removeEventListener('abort', onAbort);
        closed.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const onWake = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(onAbort, ms);
      events.on(wakeEvent(this.name), onWake);
      signal?.addEventListener('abort', onAbort);
      closed.addEventListener('abort', onAbort);
    });
  }
}

/** The `seq` range of `queue` (registered in table `queues` on first use). */
function seqRange(db: EmbeddedDatabase, queue: string): { readonly lo: number; readonly hi: number } {
  const id = runWrite(db.sqlite, () => {
    db.sqlite.prepare('INSERT INTO queues (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(queue);
    return db.sqlite.prepare<[string], number>('SELECT id FROM queues WHERE name = ?').pluck().get(queue);
  });
  if (id === undefined || id > MAX_QUEUE_ID) {
    throw new ConfigurationError(
      `EmbeddedQueue ${queue}: the database already holds ${MAX_QUEUE_ID} queues, the most it can. ` +
        'Reuse queue names, or point the backend at a new file (option `path`).',
    );
  }
  return { lo: id * SEQ_RANGE, hi: (id + 1) * SEQ_RANGE };
}

/** The message as received at `now` (the row as read before this receive counted). */
function toReceived(row: MessageRow, now: number): ReceivedMessage {
  const [seq, messageId, groupId, deduplicationId, body, attributes, sentAt, receiveCount] = row;
  return {
    messageId,
    body,
    receiptHandle: `${seq}.${receiveCount + 1}.${Math.floor(now)}`,
    groupId,
    deduplicationId,
    receiveCount: receiveCount + 1,
    sentAt,
    receivedAt: now,
    attributes: attributes === null ? {} : (JSON.parse(attributes) as Record<string, string>),
  };
}

function isFull(request: ReceiveRequest): boolean {
  return request.received.length >= request.max;
}

/** A receipt handle's parts: which message, which receive of it, and when that receive was. */
interface Receipt {
  readonly seq: number;
  readonly receiveCount: number;
  /** Epoch ms; absent in a handle of an older spool (`<seq>.<count>`). */
  readonly receivedAt?: number;
}

/** Read a receipt handle `<seq>.<receive count>[.<receive time, epoch ms>]`; `undefined` when malformed. */
function parseReceipt(handle: string): Receipt | undefined {
  const [seqText, countText, timeText, ...rest] = handle.split('.');
  if (seqText === undefined || seqText === '' || countText === undefined || rest.length > 0) return undefined;
  const seq = Number(seqText);
  const receiveCount = Number(countText);
  if (!(Number.isSafeInteger(seq) && seq > 0 && Number.isSafeInteger(receiveCount) && receiveCount > 0)) {
    return undefined;
  }
  if (timeText === undefined) return { seq, receiveCount };
  const receivedAt = Number(timeText);
  return timeText !== '' && Number.isSafeInteger(receivedAt) && receivedAt >= 0
    ? { seq, receiveCount, receivedAt }
    : undefined;
}

function checkInteger(where: string, name: string, value: number, min: number, max: number): void {
  if (Number.isInteger(value) && value >= min && value <= max) return;
  throw new ConfigurationError(
    `${where}: ${name} must be an integer from ${min} to ${max}, got ${String(value)}. ` +
      `Pass a whole number within ${min}–${max} (SQS's limit).`,
  );
}

function validateMessage(queue: string, message: OutgoingMessage, index: number): void {
  const where = `EmbeddedQueue ${queue}: send, message ${index}`;
  if (typeof message.body !== 'string') {
    throw new ConfigurationError(`${where}: body must be a string, got ${typeof message.body}. Serialise it first.`);
  }
  for (const [key, value] of Object.entries(message.attributes ?? {})) {
    if (typeof value !== 'string') {
      throw new ConfigurationError(`${where}: attribute ${key} must be a string, got ${typeof value}.`);
    }
  }
  const bytes = messageBytes(message);
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new ConfigurationError(
      `${where}: the message is ${bytes} bytes (its UTF-8 body and its attributes, as SQS counts them), the limit is ${MAX_MESSAGE_BYTES}. ` +
        'Send a smaller body (store large payloads elsewhere and send a reference).',
    );
  }
  for (const [name, value] of [
    ['deduplicationId', message.deduplicationId],
    ['groupId', message.groupId],
  ] as const) {
    if (typeof value !== 'string' || !FIFO_ID_PATTERN.test(value)) {
      throw new ConfigurationError(
        `${where}: ${name} must be ${FIFO_ID_FORMAT}, ` +
          `got ${JSON.stringify(value)}. Hash or encode the value to fit.`,
      );
    }
  }
}
