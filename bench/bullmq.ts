/**
 * BullMQ on Redis under the benchmark: one `Queue` (producer) and one `Worker` per phase, each on
 * its own ioredis connection, with BullMQ's default job and worker options (completed jobs and
 * their return values are kept, like spool keeps its records). Redis is emptied between phases.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { RedisServer } from './redis.js';
import { type BulkTiming, countdown, preciseNow, type SystemUnderTest } from './report.js';

/** Longest one phase may take before the benchmark gives up, ms. */
const PHASE_TIMEOUT_MS = 600_000;

interface BenchData {
  readonly i: number;
  readonly t: number;
}

/** BullMQ on the redis-server `server` as a {@link SystemUnderTest}. */
export function bullmqSystem(server: RedisServer): SystemUnderTest {
  const connections: Redis[] = [];
  let phase = 0;
  /** A new connection as BullMQ wants it (`maxRetriesPerRequest: null`), closed by `close()`. */
  const connect = () => {
    const connection = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: null });
    connections.push(connection);
    return connection;
  };
  const admin = connect();

  /** A fresh queue (Redis emptied first) and a worker factory for it. */
  const open = async (onRun: (data: BenchData) => void) => {
    phase += 1;
    await admin.flushall();
    const name = `bench-${phase}`;
    const queue = new Queue<BenchData>(name, { connection: connect() });
    await queue.waitUntilReady();
    const worker = async (concurrency: number) => {
      const w = new Worker<BenchData>(
        name,
        async (job: Job<BenchData>) => {
          onRun(job.data);
        },
        { connection: connect(), concurrency, autorun: false },
      );
      w.on('error', (error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
      await w.waitUntilReady();
      return w;
    };
    return { queue, worker };
  };

  return {
    name: 'bullmq',

    async bulk(tasks: number, concurrency: number): Promise<BulkTiming> {
      const done = countdown(tasks, PHASE_TIMEOUT_MS, `bullmq @${concurrency}`);
      const { queue, worker } = await open(() => done.tick());
      try {
        const jobs = Array.from({ length: tasks }, (_, i) => ({ name: 'noop', data: { i, t: 0 } }));
        const enqueueStart = performance.now();
        await queue.addBulk(jobs);
        const enqueueEnd = performance.now();
        const w = await worker(concurrency);
        const processStart = performance.now();
        const running = w.run();
        const lastRun = await done.done;
        await w.close();
        await running;
        const stopped = performance.now();
        const counts = await queue.getJobCounts('completed', 'wait', 'active', 'failed');
        if (counts.completed !== tasks) {
          throw new Error(`bullmq: expected ${tasks} completed jobs, found ${JSON.stringify(counts)}`);
        }
        return { enqueueMs: enqueueEnd - enqueueStart, processMs: lastRun - processStart, drainMs: stopped - lastRun };
      } finally {
        await queue.close();
      }
    },

    async latency(count: number, concurrency: number): Promise<number[]> {
      const latencies: number[] = [];
      const done = countdown(count, PHASE_TIMEOUT_MS, 'bullmq latency');
      const { queue, worker } = await open((data) => {
        latencies.push(preciseNow() - data.t);
        done.tick();
      });
      try {
        const w = await worker(concurrency);
        const running = w.run();
        for (let i = 0; i < count; i++) {
          await queue.add('noop', { i, t: preciseNow() });
          await sleep(1);
        }
        await done.done;
        await w.close();
        await running;
        return latencies;
      } finally {
        await queue.close();
      }
    },

    async close(): Promise<void> {
      await admin.flushall();
      await Promise.allSettled(connections.map((c) => c.quit()));
      for (const c of connections) c.disconnect();
    },
  };
}
