/**
 * The lease keeper: renews, from a worker thread (`./lease-keeper-thread.ts`), the leases of a
 * worker's attempts while the main thread is blocked (a CPU-bound handler, a synchronous native
 * call), so that one such handler does not let every lease of the worker lapse and another worker
 * run the same runs at once.
 *
 * It stands by. While the main thread is alive, attempts heartbeat there, as without a keeper, and
 * the thread does nothing but look at a clock ten times a second. The main thread's loop monitor
 * stamps that clock every 100 ms; when the stamp is older than {@link STALE_AFTER_MS}, the thread
 * renews (store heartbeat, and the message's visibility) each attempt the main thread holds, a
 * third of a lease after the main thread was last seen alive and every third of a lease after
 * that, and only until the attempt's `until`: its hard timeout, the Lambda deadline, or
 * {@link UNTIMED_KEEP_MS} for a task with neither. Never forever.
 *
 * - **No message per attempt.** The attempts held are a table in shared memory, one slot per
 *   attempt: the main thread writes the slot's lease ({@link encodeLease}) and then marks it taken;
 *   a release marks it free. That costs the main thread a short string and a copy, and the thread nothing,
 *   for the attempts that end before the main thread is ever blocked (nearly all). A slot is read
 *   under its generation count: a read that overlapped the slot's reuse is discarded.
 * - **Safe is a third of a lease.** The main thread heartbeats every third of a lease while alive,
 *   so when its stamp is `t`, every lease it holds runs to at least `t + ⅔ lease`; the thread's
 *   first renewal at `t + ⅓ lease` leaves a third of a lease for the write.
 * - The thread opens its own connection to the backend from the backend's {@link PortableBackend}
 *   recipe. Without one (an in-memory database, a custom clock, clients the caller made) there is
 *   no thread, and a blocked main thread lets its leases lapse, as without a keeper.
 *
 * **A renewal in flight when the attempt ends.** A slot stays taken until the processor has
 * *written the attempt's finish* (the group runner releases it when the message's processing is
 * done, `releaseMessage`): the main thread may be blocked again between the handler's return and
 * that write (another handler's loop), and a lease that lapsed there would let another worker run
 * the run again while the finish waits. Then:
 *
 * - **Store.** A renewal may race the finish. Its condition is `state = running AND leaseOwner =
 *   owner`, and every finish removes the lease (a new claim sets another owner, unique per
 *   attempt), so a renewal that lands after the finish, or after another worker's claim, is `lost`
 *   and writes nothing, neither the record nor the singleton lock (one conditional write or
 *   transaction: `lib/backend/store.ts`, `store-rules.ts`). One that lands before it only extends a
 *   lease the finish then removes. It cannot resurrect or corrupt a run.
 * - **Message.** The thread marks a slot busy while it renews it, and a release waits for that
 *   mark to clear before the disposition changes the message, so a late extension cannot undo a
 *   retry's delay. Only a renewal that began in the instant between the release's look at the mark
 *   and the disposition can land after it: it hides the message one lease longer (a delete is not
 *   undone, and a run that comes back before its retry's time is turned away as `not-due`).
 *
 * @module
 */

import type { Worker as Thread } from 'node:worker_threads';
import type { PortableBackend } from '../backend/backend.js';
import type { Logger } from '../log/logger.js';
import type { ErrorInfo } from '../task/errors.js';
import { siblingEntry, startThread } from './thread-entry.js';

export { UNTIMED_KEEP_MS } from './lease.js';

/** The main thread counts as blocked once its liveness stamp is this old, ms (its monitor stamps every 100). */
export const STALE_AFTER_MS = 250;

/** How often the keeper's thread looks at the main thread's stamp, ms. */
export const KEEPER_POLL_MS = 100;

/** Most bytes of one slot's lease ({@link encodeLease}); an attempt whose lease is longer is not kept. */
export const SLOT_BYTES = 2048;

/**
 * What the keeper needs to renew one attempt's lease (written to its slot once). Optional fields
 * may be given as `undefined` (built without spreads on the hot path).
 */
export interface KeptLease {
  /** The run's task id. */
  readonly id: string;
  /** The attempt's lease owner. */
  readonly owner: string;
  /** The task's lease length, seconds (also the visibility extension). */
  readonly leaseSeconds: number;
  /** Renew a blocked main thread's lease only until this moment, epoch ms. */
  readonly until: number;
  /** The singleton lock the lease extends, if the run holds one. */
  readonly singletonKey?: string | undefined;
  /** The runtime's deadline (a Lambda's), epoch ms: leases end at most a second past it. */
  readonly deadline?: number | undefined;
  /** The message's receipt handle, to extend its visibility with each renewal. */
  readonly receiptHandle?: string | undefined;
}

/**
 * A lease as its slot holds it. Usually lines: `L`, id, owner, leaseSeconds, until, deadline,
 * receipt handle, singleton key (an absent field is an empty line): a template string costs a
 * fifth of `JSON.stringify`, and every attempt writes one. When a string field is empty or holds a
 * line break (a singleton key can be anything), `J` and the lease's JSON instead.
 */
export function encodeLease(lease: KeptLease): string {
  const { id, owner, singletonKey, receiptHandle } = lease;
  const receipt = receiptHandle ?? '';
  if (
    id.includes('\n') ||
    owner.includes('\n') ||
    receipt.includes('\n') ||
    receiptHandle === '' ||
    singletonKey === '' ||
    singletonKey?.includes('\n') === true
  ) {
    return `J${JSON.stringify(lease)}`;
  }
  return `L\n${id}\n${owner}\n${lease.leaseSeconds}\n${lease.until}\n${lease.deadline ?? ''}\n${receipt}\n${singletonKey ?? ''}`;
}

/** Read what {@link encodeLease} wrote; `undefined` when it is not a lease. */
export function decodeLease(text: string): KeptLease | undefined {
  if (text.startsWith('J')) {
    try {
      return JSON.parse(text.slice(1)) as KeptLease;
    } catch {
      return undefined;
    }
  }
  const [mark, id, owner, leaseSeconds, until, deadline, receiptHandle, singletonKey, ...rest] = text.split('\n');
  if (mark !== 'L' || singletonKey === undefined || rest.length > 0 || id === undefined || owner === undefined) {
    return undefined;
  }
  const lease: KeptLease = {
    id,
    owner,
    leaseSeconds: Number(leaseSeconds),
    until: Number(until),
    deadline: deadline === '' ? undefined : Number(deadline),
    receiptHandle: receiptHandle === '' ? undefined : receiptHandle,
    singletonKey: singletonKey === '' ? undefined : singletonKey,
  };
  return Number.isFinite(lease.leaseSeconds) && Number.isFinite(lease.until) ? lease : undefined;
}

/** A running attempt, as the keeper and the loop monitor see it. */
export interface KeptAttempt {
  readonly taskName: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly leaseSeconds: number;
}

/** Messages to the keeper's thread. */
export type ToKeeper = { readonly type: 'close' };

/** Messages from the keeper's thread. */
export type FromKeeper =
  | { readonly type: 'ready' }
  | { readonly type: 'open-failed'; readonly error: ErrorInfo }
  /** A renewal failed (the backend); told at most once a minute. */
  | { readonly type: 'failed'; readonly error: ErrorInfo; readonly taskId: string };

/** What the keeper's thread gets as `workerData`. */
export interface KeeperData {
  readonly backend: PortableBackend;
  /** The main thread's liveness stamp (epoch ms, one `BigInt64Array` element). */
  readonly liveness: SharedArrayBuffer;
  /** The slots (see {@link SlotTable}). */
  readonly table: SharedArrayBuffer;
  readonly capacity: number;
  readonly staleAfterMs: number;
  readonly pollMs: number;
}

/**
 * The shared table of held attempts, as both threads see it: for slot `i`, `state[i]` (0 free, 1
 * taken), `generation[i]` (counts the slot's uses), `length[i]` (bytes of its encoded lease),
 * `busy[i]` (1 while the thread renews it), and the encoded lease at `bytes[i * SLOT_BYTES …]`.
 */
export class SlotTable {
  readonly state: Int32Array;
  readonly generation: Int32Array;
  readonly length: Int32Array;
  readonly busy: Int32Array;
  readonly bytes: Buffer;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly capacity: number,
  ) {
    const ints = capacity * Int32Array.BYTES_PER_ELEMENT;
    this.state = new Int32Array(buffer, 0, capacity);
    this.generation = new Int32Array(buffer, ints, capacity);
    this.length = new Int32Array(buffer, 2 * ints, capacity);
    this.busy = new Int32Array(buffer, 3 * ints, capacity);
    this.bytes = Buffer.from(buffer, 4 * ints, capacity * SLOT_BYTES);
  }

  /** A table of `capacity` slots in new shared memory. */
  static create(capacity: number): SlotTable {
    return new SlotTable(new SharedArrayBuffer(capacity * (4 * Int32Array.BYTES_PER_ELEMENT + SLOT_BYTES)), capacity);
  }
}

/** One attempt the keeper tracks. */
class Entry implements KeptAttempt {
  /** Its slot in the shared table, when it has one. */
  slot = -1;

  constructor(
    readonly key: number,
    readonly taskName: string,
    readonly taskId: string,
    readonly attempt: number,
    readonly leaseSeconds: number,
    /** The attempt's message, when it came with one (see {@link LeaseKeeper.releaseMessage}). */
    readonly receiptHandle: string | undefined,
  ) {}
}

/** A handle on a kept attempt, for {@link LeaseKeeper.release}. */
export type KeptHandle = KeptAttempt & { readonly key: number };

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  /** How to open the backend in the thread; absent: no thread. */
  readonly backend: PortableBackend | undefined;
  readonly logger: Logger;
  /** The main thread's liveness stamp, written by its loop monitor. */
  readonly liveness: SharedArrayBuffer;
  /** Most attempts held at once (the worker's concurrency); more are not kept. */
  readonly capacity: number;
  /** Told each attempt that ends (the loop monitor names attempts that ended during a block). */
  readonly onEnded?: (attempt: KeptAttempt) => void;
}

/** The main thread's side of the lease keeper (see the module's header). */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #entries = new Map<number, Entry>();
  /** The entries of attempts that came with a message, by its receipt handle. */
  readonly #byReceipt = new Map<string, Entry>();
  #table: SlotTable | undefined;
  /** Free slots of the table. */
  #free: number[] = [];
  #thread: Thread | undefined;
  /** Whether the thread said it is up (its backend open). */
  #ready = false;
  #nextKey = 0;
  #warnedFull = false;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
  }

  /** Whether the thread is up and stands by to renew the leases of a blocked main thread. */
  get offThread(): boolean {
    return this.#ready;
  }

  /** The attempts running now. */
  running(): IterableIterator<KeptAttempt> {
    return this.#entries.values();
  }

  /**
   * Start the thread; resolves whether it came up (open-failed, or no recipe: `false`), and logs
   * why at warn when it did not. Attempts are written to the slot table from the call on, so the
   * caller need not wait: a thread that comes up while the main thread is already blocked renews
   * what that block holds.
   */
  start(): Promise<boolean> {
    const { backend, logger } = this.#options;
    if (backend === undefined) return Promise.resolve(false);
    const capacity = Math.max(1, this.#options.capacity);
    const table = SlotTable.create(capacity);
    let thread: Thread;
    try {
      const data: KeeperData = {
        backend,
        liveness: this.#options.liveness,
        table: table.buffer,
        capacity,
        staleAfterMs: STALE_AFTER_MS,
        pollMs: KEEPER_POLL_MS,
      };
      thread = startThread(siblingEntry('lease-keeper-thread', import.meta.url), data);
    } catch (error) {
      logger.warn('lease keeper thread could not start; a blocked event loop lets leases lapse', { error });
      return Promise.resolve(false);
    }
    thread.unref();
    this.#table = table;
    this.#free = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.#thread = thread;
    return new Promise<boolean>((resolve) => {
      thread.on('message', (message: FromKeeper) => {
        if (message.type === 'ready') {
          this.#ready = this.#thread === thread;
          resolve(this.#ready);
        } else if (message.type === 'open-failed') {
          logger.warn('lease keeper could not open the backend; a blocked event loop lets leases lapse', {
            error: message.error,
          });
          this.#gone(thread);
          resolve(false);
        } else {
          logger.warn('lease keeper: renewing a lease failed; it tries again', {
            taskId: message.taskId,
            error: message.error,
          });
        }
      });
      thread.on('error', (error) => {
        logger.error('lease keeper thread failed; a blocked event loop lets leases lapse from now on', { error });
        this.#gone(thread);
        resolve(false);
      });
      thread.on('exit', () => {
        this.#gone(thread);
        resolve(false);
      });
    });
  }

  /**
   * Track an attempt and, when the thread is up, write its lease to a free slot. The attempt
   * heartbeats itself; the thread renews it only while the main thread is blocked.
   */
  keep(attempt: KeptAttempt, lease: KeptLease): KeptHandle {
    const key = ++this.#nextKey;
    const entry = new Entry(
      key,
      attempt.taskName,
      attempt.taskId,
      attempt.attempt,
      attempt.leaseSeconds,
      lease.receiptHandle,
    );
    this.#entries.set(key, entry);
    if (lease.receiptHandle !== undefined) this.#byReceipt.set(lease.receiptHandle, entry);
    const table = this.#table;
    if (table !== undefined) this.#write(table, entry, lease);
    return entry;
  }

  /**
   * Stop keeping an attempt. Resolves once a renewal of it in flight (if any) has settled (see the
   * module's header); `undefined` when none was.
   */
  release(handle: KeptHandle): Promise<void> | undefined {
    const entry = this.#entries.get(handle.key);
    if (entry === undefined) return undefined;
    this.#entries.delete(entry.key);
    if (entry.receiptHandle !== undefined && this.#byReceipt.get(entry.receiptHandle) === entry) {
      this.#byReceipt.delete(entry.receiptHandle);
    }
    this.#options.onEnded?.(entry);
    const table = this.#table;
    const slot = entry.slot;
    if (table === undefined || slot < 0) return undefined;
    Atomics.store(table.state, slot, 0);
    if (Atomics.load(table.busy, slot) === 0) {
      this.#free.push(slot);
      return undefined;
    }
    return this.#afterRenewal(table, slot);
  }

  /**
   * {@link LeaseKeeper.release} the attempt of the message with `receiptHandle`, if one was kept:
   * the group runner calls it once the message's processing (the attempt and its finish) is done.
   */
  releaseMessage(receiptHandle: string): Promise<void> | undefined {
    const entry = this.#byReceipt.get(receiptHandle);
    return entry === undefined ? undefined : this.release(entry);
  }

  /** Stop the thread (after the worker has drained): it closes its backend connection and exits. */
  async close(): Promise<void> {
    const thread = this.#thread;
    if (thread === undefined) return;
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    thread.postMessage({ type: 'close' } satisfies ToKeeper);
    const timer = setTimeout(() => void thread.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Write `lease` to a free slot: the encoded lease first, then the generation, then the taken mark. */
  #write(table: SlotTable, entry: Entry, lease: KeptLease): void {
    const slot = this.#free.pop();
    if (slot === undefined) {
      if (!this.#warnedFull) {
        this.#warnedFull = true;
        this.#options.logger.warn('lease keeper: more attempts than slots; the extra ones are not kept', {
          capacity: table.capacity,
        });
      }
      return;
    }
    const text = encodeLease(lease);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: measure exactly only when that bound is too long.
    if (text.length * 3 > SLOT_BYTES && Buffer.byteLength(text) > SLOT_BYTES) {
      this.#free.push(slot);
      return;
    }
    const length = table.bytes.write(text, slot * SLOT_BYTES, SLOT_BYTES, 'utf8');
    table.length[slot] = length;
    Atomics.add(table.generation, slot, 1);
    Atomics.store(table.state, slot, 1);
    entry.slot = slot;
  }

  /** Wait until the thread's renewal of `slot` has settled, then free the slot. */
  async #afterRenewal(table: SlotTable, slot: number): Promise<void> {
    while (Atomics.load(table.busy, slot) !== 0 && this.#thread !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.#free.push(slot);
  }

  /** The thread ended: from now on a blocked event loop lets leases lapse. */
  #gone(thread: Thread): void {
    void thread.terminate();
    if (this.#thread !== thread) return;
    this.#thread = undefined;
    this.#ready = false;
    this.#table = undefined;
    this.#free = [];
    for (const entry of this.#entries.values()) entry.slot = -1;
  }
}
