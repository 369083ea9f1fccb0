/**
 * The embedded runtime under the benchmark: spool on a fresh SQLite file per phase, with the
 * library's defaults (WAL, `synchronous = NORMAL`, results kept in the store). Besides the phases
 * of every system, the cross-process latency phase: the producer here, the worker in a child
 * process (`fixtures/embedded-worker.ts`), as with an app and `spool worker`.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskHandle } from '../lib/client/handle.js';
import { createSpool, type Spool } from '../lib/client/spool.js';
import { openEmbeddedBackend } from '../lib/embedded/backend.js';
import { silentLogger } from '../lib/log/logger.js';
import { type BenchArgs, noopTask } from './fixtures/noop-task.js';
import { type BulkTiming, countdown, monotonicNow, preciseNow, type SystemUnderTest } from './report.js';

/** Longest one phase may take before the benchmark gives up, ms. */
const PHASE_TIMEOUT_MS = 600_000;
/** Tasks the worker process runs before those measured in a cross-process phase (its warm-up). */
const CROSS_PROCESS_WARMUP = 50;
/** How long the worker process may take to exit once told to stop, ms. */
const CHILD_EXIT_MS = 10_000;
/** The repository's root, the child processes' working directory (where `tsx` resolves). */
const ROOT = resolve(import.meta.dirname, '..');

/** The embedded runtime, with its cross-process phase. */
export interface EmbeddedSystem extends SystemUnderTest {
  /**
   * Like {@link SystemUnderTest.latency}, with the worker in another process (spawned for the
   * phase, on a fresh file) and `crossProcessWake` set to `wake` in both processes. Start times are
   * taken in the worker's process, enqueue times here, both on the machine's monotonic clock.
   */
  crossProcessLatency(count: number, concurrency: number, wake: boolean): Promise<number[]>;
}

/** The embedded runtime as a {@link SystemUnderTest}. Files go to a temporary directory removed by `close()`. */
export function embeddedSystem(): EmbeddedSystem {
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-'));
  // Also on process.exit (Ctrl-C exits from the redis helper's SIGINT handler).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  let phase = 0;

  /** A spool on a fresh database whose single no-op task calls `onRun`. */
  const open = (onRun: (args: BenchArgs) => void, crossProcessWake = true) => {
    phase += 1;
    const task = noopTask(onRun);
    const path = join(dir, `phase-${phase}.db`);
    const backend = openEmbeddedBackend({ path, crossProcessWake });
    const spool = createSpool({ backend, tasks: [task], logger: silentLogger });
    return { spool, task, path };
  };

  return {
    name: 'embedded',

    async bulk(tasks: number, concurrency: number): Promise<BulkTiming> {
      const done = countdown(tasks, PHASE_TIMEOUT_MS, `embedded @${concurrency}`);
      const { spool, task } = open(() => done.tick());
      try {
        const argsList = Array.from({ length: tasks }, (_, i) => ({ i, t: 0 }));
        const enqueueStart = performance.now();
        const handles = await spool.enqueueMany(task, argsList);
        const enqueueEnd = performance.now();
        const worker = spool.worker({ concurrency });
        const processStart = performance.now();
        await worker.start();
        const lastRun = await done.done;
        await worker.stop();
        const stopped = performance.now();
        await assertAllSucceeded(spool, handles);
        return { enqueueMs: enqueueEnd - enqueueStart, processMs: lastRun - processStart, drainMs: stopped - lastRun };
      } finally {
        await spool.close();
      }
    },

    async latency(count: number, concurrency: number): Promise<number[]> {
      const latencies: number[] = [];
      const done = countdown(count, PHASE_TIMEOUT_MS, 'embedded latency');
      const { spool, task } = open((args) => {
        latencies.push(preciseNow() - args.t);
        done.tick();
      });
      try {
        const worker = spool.worker({ concurrency });
        await worker.start();
        for (let i = 0; i < count; i++) {
          await spool.enqueue(task, { i, t: preciseNow() });
          await sleep(1);
        }
        await done.done;
        await worker.stop();
        return latencies;
      } finally {
        await spool.close();
      }
    },

    async crossProcessLatency(count: number, concurrency: number, wake: boolean): Promise<number[]> {
      // The producer opens the file first (creating it and its schema), then the worker opens it.
      const { spool, task, path } = open(() => {}, wake);
      const worker = workerProcess(path, concurrency, wake);
      try {
        await worker.ready;
        const total = CROSS_PROCESS_WARMUP + count;
        for (let i = 0; i < total; i++) {
          await spool.enqueue(task, { i, t: monotonicNow() });
          await sleep(1);
        }
        const latencies = await worker.latencies(total);
        return latencies.filter((_, i) => i >= CROSS_PROCESS_WARMUP);
      } finally {
        await worker.stop();
        await spool.close();
      }
    },

    async close(): Promise<void> {
      process.off('exit', removeDir);
      removeDir();
    },
  };
}

/** The worker process of a cross-process phase (see `fixtures/embedded-worker.ts`). */
interface WorkerProcess {
  /** Resolves once its worker runs. */
  readonly ready: Promise<void>;
  /** Resolves with the latencies of runs `0 … total - 1`, by index, once all of them ran. */
  latencies(total: number): Promise<number[]>;
  /** Stop its worker (by closing its stdin) and wait for it to exit; kill it if it does not. */
  stop(): Promise<void>;
}

function workerProcess(path: string, concurrency: number, wake: boolean): WorkerProcess {
  const fixture = join(ROOT, 'bench', 'fixtures', 'embedded-worker.ts');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=spool-source', '--import', 'tsx', fixture, path, String(concurrency), wake ? 'on' : 'off'],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const byIndex = new Map<number, number>();
  let stderr = '';
  let buffered = '';
  let onLine: () => void = () => {};
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const ready = new Promise<void>((resolveReady, reject) => {
    child.once('error', reject);
    void exit.then(() => reject(new Error(`the worker process exited before it was ready: ${stderr}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (line === 'ready') {
          resolveReady();
          continue;
        }
        const [index, latency] = line.split(' ').map(Number);
        if (Number.isInteger(index) && Number.isFinite(latency)) byIndex.set(index as number, latency as number);
      }
      onLine();
    });
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return {
    ready,
    latencies(total: number): Promise<number[]> {
      return new Promise((resolveAll, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`embedded cross-process: only ${byIndex.size} of ${total} tasks ran in time`)),
          PHASE_TIMEOUT_MS,
        );
        timer.unref();
        onLine = () => {
          if (byIndex.size < total) return;
          clearTimeout(timer);
          resolveAll(Array.from({ length: total }, (_, i) => byIndex.get(i) ?? Number.NaN));
        };
        onLine();
        void exit.then(() =>
          reject(new Error(`the worker process exited after ${byIndex.size} of ${total} tasks: ${stderr}`)),
        );
      });
    },
    async stop(): Promise<void> {
      if (exited) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_EXIT_MS);
      await exit;
      clearTimeout(timer);
      if (child.signalCode === 'SIGKILL') {
        throw new Error(`the worker process did not exit within ${CHILD_EXIT_MS} ms of being stopped: ${stderr}`);
      }
    },
  };
}

/** Fail loudly unless every run is recorded as succeeded and the queue is empty (the work really was done). */
async function assertAllSucceeded(spool: Spool, handles: readonly TaskHandle[]): Promise<void> {
  let succeeded = 0;
  for (const handle of handles) {
    if ((await spool.backend.store.get(handle.id))?.state === 'succeeded') succeeded += 1;
  }
  const stats = await spool.backend.transport.tasks.stats();
  const left = stats.visible + stats.inFlight;
  if (succeeded !== handles.length || left !== 0) {
    throw new Error(
      `embedded: expected ${handles.length} succeeded runs and an empty queue, found ${succeeded} succeeded and ${left} messages left`,
    );
  }
}
