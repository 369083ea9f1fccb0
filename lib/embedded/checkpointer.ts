/**
 * WAL checkpoints off the main thread. In WAL mode with `synchronous = NORMAL` a COMMIT writes the
 * transaction's pages to the WAL without syncing; the syncing (two `fsync`s) happens at each
 * checkpoint, which SQLite runs by default on the committing thread every 1,000 WAL pages. On a
 * busy queue that is a stall of several milliseconds on the event loop every few hundred tasks.
 *
 * Here one `worker_threads` Worker per process holds its own connection to each open database file
 * and runs `PRAGMA wal_checkpoint(PASSIVE)` on it every few milliseconds while the WAL grows (every
 * {@link IDLE_MS} ms when it does not). A passive checkpoint never blocks a writer. Under a
 * sustained write load the WAL cannot restart from its beginning (a writer is always ahead of the
 * checkpoint), so once it holds {@link RESTART_FRAMES} frames the worker runs one
 * `wal_checkpoint(RESTART)`, which waits for a gap between transactions, briefly holds the write
 * lock and makes the next transaction start the WAL over. The main connection keeps an automatic
 * checkpoint as a safety net at {@link MAIN_AUTOCHECKPOINT_FRAMES} frames, and goes back to SQLite's
 * default (1,000) if the worker cannot run.
 *
 * Durability does not change: a checkpoint only copies committed pages from the WAL into the
 * database file. Several processes sharing the file each run their own checkpointer; SQLite
 * serialises checkpoints, and a passive one that finds another running simply skips.
 *
 * @module
 */

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** `wal_autocheckpoint` of a main connection while the checkpointer runs (frames): a safety net only. */
export const MAIN_AUTOCHECKPOINT_FRAMES = 16_384;
/** SQLite's default `wal_autocheckpoint`, restored when the checkpointer cannot run. */
export const DEFAULT_AUTOCHECKPOINT_FRAMES = 1000;
/** Frames in the WAL at which the worker restarts it (≈ 32 MiB with 4 KiB pages). */
export const RESTART_FRAMES = 8192;
/** Pause between checkpoints while the WAL grows, ms. */
export const BUSY_MS = 4;
/** Pause between checkpoints while it does not, ms. */
export const IDLE_MS = 100;
/** Longest `close()` waits for the worker to close its connection, ms. */
const CLOSE_WAIT_MS = 5000;

/** States of one file's slot, shared with the worker. */
const PENDING = 0;
const OPEN = 1;
const CLOSED = 2;
const CANCELLED = 3;

/**
 * The worker, as CommonJS source (an `eval` worker: it needs no loader, whether spool runs as
 * TypeScript through tsx or vitest, or as compiled JavaScript).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { PENDING, OPEN, CLOSED, RESTART_FRAMES, BUSY_MS, IDLE_MS } = workerData;
const files = new Map();
let timer;

function settle(state, value) {
  Atomics.store(state, 0, value);
  Atomics.notify(state, 0);
}

function schedule(ms) {
  if (timer !== undefined) clearTimeout(timer);
  timer = files.size === 0 ? undefined : setTimeout(run, ms);
}

function run() {
  timer = undefined;
  let grew = false;
  for (const [id, file] of files) {
    try {
      const result = file.db.pragma('wal_checkpoint(PASSIVE)')[0];
      if (result.log >= RESTART_FRAMES) file.db.pragma('wal_checkpoint(RESTART)');
      if (result.log !== file.lastLog) grew = true;
      file.lastLog = result.log;
      file.failures = 0;
    } catch (error) {
      file.failures += 1;
      if (file.failures >= 3) {
        close(id);
        parentPort.postMessage({ type: 'failed', id, message: String(error && error.message) });
      }
    }
  }
  schedule(grew ? BUSY_MS : IDLE_MS);
}

function close(id) {
  const file = files.get(id);
  if (file === undefined) return;
  files.delete(id);
  try {
    file.db.close();
  } catch {}
  settle(file.state, CLOSED);
}

parentPort.on('message', (message) => {
  if (message.type === 'open') {
    if (Atomics.compareExchange(message.state, 0, PENDING, OPEN) !== PENDING) return;
    try {
      const db = new Database(message.path, { fileMustExist: true, timeout: 200 });
      db.pragma('synchronous = NORMAL');
      files.set(message.id, { db, state: message.state, lastLog: -1, failures: 0 });
      schedule(IDLE_MS);
    } catch (error) {
      settle(message.state, CLOSED);
      parentPort.postMessage({ type: 'failed', id: message.id, message: String(error && error.message) });
    }
  } else if (message.type === 'close') {
    close(message.id);
    schedule(BUSY_MS);
  }
});
`;

/** One main connection registered with the checkpointer. */
export interface CheckpointerLease {
  /** Stop checkpointing for this connection; the last lease of a file closes the worker's connection first. */
  release(): void;
}

interface FileEntry {
  readonly id: number;
  readonly state: Int32Array;
  /** Called when the checkpointer stops for this file (the main connections take over). */
  readonly fallbacks: Set<() => void>;
}

let worker: Worker | undefined;
let workerFailed = false;
let nextId = 1;
const files = new Map<string, FileEntry>();

function failFile(path: string, entry: FileEntry): void {
  if (files.get(path) === entry) files.delete(path);
  Atomics.store(entry.state, 0, CLOSED);
  for (const fallback of entry.fallbacks) fallback();
  entry.fallbacks.clear();
}

function startWorker(): Worker | undefined {
  if (worker !== undefined || workerFailed) return worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { driver, PENDING, OPEN, CLOSED, RESTART_FRAMES, BUSY_MS, IDLE_MS },
    });
    started.on('message', (message: { type: string; id: number }) => {
      if (message.type !== 'failed') return;
      for (const [path, entry] of files) if (entry.id === message.id) failFile(path, entry);
    });
    const giveUp = () => {
      workerFailed = true;
      worker = undefined;
      for (const [path, entry] of files) failFile(path, entry);
    };
    started.on('error', giveUp);
    started.on('exit', giveUp);
    // After the listeners: adding a 'message' listener refs the worker again.
    started.unref();
    worker = started;
  } catch {
    workerFailed = true;
  }
  return worker;
}

/**
 * Checkpoint the WAL of the file at `path` (absolute, in WAL mode) off the main thread, for as
 * long as the lease is held. `fallback` runs if the checkpointer stops working for the file: the
 * caller should then restore automatic checkpoints on its connection. Returns `undefined` when no
 * worker can run (the caller keeps SQLite's automatic checkpoints).
 */
export function checkpointInBackground(path: string, fallback: () => void): CheckpointerLease | undefined {
  const running = startWorker();
  if (running === undefined) return undefined;
  let entry = files.get(path);
  if (entry === undefined) {
    entry = { id: nextId++, state: new Int32Array(new SharedArrayBuffer(4)), fallbacks: new Set() };
    files.set(path, entry);
    running.postMessage({ type: 'open', id: entry.id, path, state: entry.state });
  }
  const held = entry;
  held.fallbacks.add(fallback);
  let released = false;
  return {
    release(): void {
      if (released) return;
      released = true;
      held.fallbacks.delete(fallback);
      if (held.fallbacks.size > 0 || files.get(path) !== held) return;
      files.delete(path);
      // Not opened yet: the worker will skip it. Otherwise wait (bounded) until its connection is
      // closed, so that after close() nothing of this process holds the file.
      if (Atomics.compareExchange(held.state, 0, PENDING, CANCELLED) === PENDING) return;
      if (Atomics.load(held.state, 0) !== OPEN || worker === undefined) return;
      worker.postMessage({ type: 'close', id: held.id });
      Atomics.wait(held.state, 0, OPEN, CLOSE_WAIT_MS);
    },
  };
}
