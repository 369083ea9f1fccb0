/**
 * The lease keeper's thread (started by `./lease-keeper.ts`): opens the backend from its
 * {@link PortableBackend} recipe and stands by. Every {@link KeeperData.pollMs} it looks at the main
 * thread's liveness stamp; while the stamp is stale it renews the leases in the shared slot table,
 * a third of a lease after the main thread was last seen alive and every third of a lease after
 * that, each only until its `until`. See the keeper's header for the rules.
 *
 * @module
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { Backend, PortableBackend } from '../backend/backend.js';
import { toErrorInfo } from '../task/errors.js';
import { leaseMsAt } from './lease.js';
import {
  decodeLease,
  type FromKeeper,
  type KeeperData,
  type KeptLease,
  SLOT_BYTES,
  SlotTable,
  type ToKeeper,
} from './lease-keeper.js';

/** A slot's lease as this thread read it. */
interface Tracked {
  readonly generation: number;
  readonly lease: KeptLease;
  /** When its lease was last renewed here, or the main thread last seen alive, epoch ms. */
  renewedAt: number;
}

/** Report a failed renewal at most this often, ms. */
const REPORT_EVERY_MS = 60_000;

const port = parentPort;
const data = workerData as KeeperData;
const liveness = new BigInt64Array(data.liveness);
const table = new SlotTable(data.table, data.capacity);
const tracked = new Map<number, Tracked>();
let backend: Backend | undefined;
let reportedAt = 0;

function post(message: FromKeeper): void {
  port?.postMessage(message);
}

/** Read slot `slot`'s lease, or `undefined` when the slot was freed or reused while being read. */
function read(slot: number, generation: number): KeptLease | undefined {
  const start = slot * SLOT_BYTES;
  const text = table.bytes.toString('utf8', start, start + (table.length[slot] ?? 0));
  if (Atomics.load(table.state, slot) !== 1 || Atomics.load(table.generation, slot) !== generation) return undefined;
  return decodeLease(text);
}

function poll(): void {
  const b = backend;
  if (b === undefined) return;
  const now = Date.now();
  const seen = Number(Atomics.load(liveness, 0));
  if (now - seen < data.staleAfterMs) {
    if (tracked.size > 0) tracked.clear();
    return;
  }
  for (let slot = 0; slot < table.capacity; slot++) {
    if (Atomics.load(table.state, slot) !== 1) {
      tracked.delete(slot);
      continue;
    }
    if (Atomics.load(table.busy, slot) !== 0) continue;
    const generation = Atomics.load(table.generation, slot);
    let entry = tracked.get(slot);
    if (entry?.generation !== generation) {
      const lease = read(slot, generation);
      if (lease === undefined) continue;
      entry = { generation, lease, renewedAt: seen };
      tracked.set(slot, entry);
    }
    const { lease } = entry;
    // Blocked past the attempt's hard timeout (or deadline): let the lease lapse.
    if (now >= lease.until) continue;
    if (now - Math.max(entry.renewedAt, seen) < (lease.leaseSeconds * 1000) / 3) continue;
    Atomics.store(table.busy, slot, 1);
    const renewing = entry;
    void renew(b, lease, now).finally(() => {
      renewing.renewedAt = now;
      Atomics.store(table.busy, slot, 0);
    });
  }
}

async function renew(b: Backend, lease: KeptLease, now: number): Promise<void> {
  try {
    const result = await b.store.heartbeat({
      id: lease.id,
      owner: lease.owner,
      now,
      leaseMs: leaseMsAt(lease.leaseSeconds, now, lease.deadline),
      ...(lease.singletonKey === undefined ? {} : { singletonKey: lease.singletonKey }),
    });
    // A lost lease (or a cancel) is the attempt's to learn, from its own heartbeat once the main
    // thread runs again; the message is no longer this attempt's to hide.
    if (result.outcome === 'renewed' && lease.receiptHandle !== undefined) {
      await b.transport.tasks.changeVisibility(lease.receiptHandle, lease.leaseSeconds);
    }
  } catch (error) {
    if (now - reportedAt >= REPORT_EVERY_MS) {
      reportedAt = now;
      post({ type: 'failed', error: toErrorInfo(error), taskId: lease.id });
    }
  }
}

async function open(recipe: PortableBackend): Promise<Backend> {
  const exports = (await import(recipe.module)) as Record<string, unknown>;
  const opener =
    exports[recipe.exportName] ?? (exports.default as Record<string, unknown> | undefined)?.[recipe.exportName];
  if (typeof opener !== 'function') {
    throw new Error(`${recipe.module} exports no function ${recipe.exportName}`);
  }
  return (await (opener as (options: unknown) => Backend | Promise<Backend>)(recipe.options)) as Backend;
}

let timer: NodeJS.Timeout | undefined;
/** Set by a close, which may come before the backend is open. */
let closing = false;

async function close(): Promise<void> {
  closing = true;
  if (timer !== undefined) clearInterval(timer);
  // Let renewals in flight settle before the connection closes.
  while (table.busy.some((busy) => busy !== 0)) await new Promise((resolve) => setTimeout(resolve, 5));
  try {
    await backend?.close();
  } finally {
    port?.close();
  }
}

port?.on('message', (message: ToKeeper) => {
  if (message.type === 'close') void close();
});
open(data.backend).then(
  (opened) => {
    if (closing) {
      // Closed while opening: nothing to keep.
      void Promise.resolve(opened.close()).finally(() => port?.close());
      return;
    }
    backend = opened;
    timer = setInterval(poll, data.pollMs);
    post({ type: 'ready' });
  },
  (error: unknown) => {
    post({ type: 'open-failed', error: toErrorInfo(error) });
    port?.close();
  },
);
