/**
 * The embedded runtime under the benchmark: spool on a fresh SQLite file per phase, with the
 * library's defaults (WAL, `synchronous = NORMAL`, results kept in the store).
 *
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { TaskHandle } from '../lib/client/handle.js';
import { createSpool, type Spool } from '../lib/client/spool.js';
import { openEmbeddedBackend } from '../lib/embedded/backend.js';
import { silentLogger } from '../lib/log/logger.js';
import { defineTask } from '../lib/task/define.js';
import { type BulkTiming, countdown, preciseNow, type SystemUnderTest } from './report.js';

/** Longest one phase may take before the benchmark gives up, ms. */
const PHASE_TIMEOUT_MS = 600_000;

const argsSchema = z.object({ i: z.number(), t: z.number() });
type BenchArgs = z.infer<typeof argsSchema>;

/** The embedded runtime as a {@link SystemUnderTest}. Files go to a temporary directory removed by `close()`. */
export function embeddedSystem(): SystemUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-'));
  // Also on process.exit (Ctrl-C exits from the redis helper's SIGINT handler).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  let phase = 0;

  /** A spool on a fresh database whose single no-op task calls `onRun`. */
  const open = (onRun: (args: BenchArgs) => void) => {
    phase += 1;
    const task = defineTask({
      name: 'bench.noop',
      schema: argsSchema,
      idempotencyKey: false,
      handler: (args) => {
        onRun(args);
      },
    });
    const backend = openEmbeddedBackend({ path: join(dir, `phase-${phase}.db`) });
    const spool = createSpool({ backend, tasks: [task], logger: silentLogger });
    return { spool, task };
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

    async close(): Promise<void> {
      process.off('exit', removeDir);
      removeDir();
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
