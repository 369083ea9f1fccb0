/**
 * The conformance harness: a backend factory, plus apps (spool + workers) on fresh backends that
 * are cleaned up after each test.
 */

import {
  type AnyTask,
  type Backend,
  createLogger,
  createSpool,
  type DeadLetter,
  defineTask,
  type Logger,
  listDeadLetters,
  type Middleware,
  type Schedule,
  type Spool,
  type Worker,
  type WorkerOptions,
} from 'spool-tasks';
import { afterEach } from 'vitest';
import { z } from 'zod';

/** Makes fresh, isolated backends (own queues, own table/file). */
export interface BackendFactory {
  readonly name: string;
  /** A new backend whose reads use `now` as the clock. */
  create(options: { readonly now: () => number }): Promise<Backend>;
}

/** A clock the test can move forward. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export interface App {
  readonly spool: Spool;
  readonly clock: TestClock;
  readonly logs: Record<string, unknown>[];
  readonly backend: Backend;
  /** Start (and track) a worker on this app. */
  startWorker(options?: WorkerOptions): Promise<Worker>;
}

export interface AppOptions {
  readonly middleware?: readonly Middleware[];
  /** Start one worker at once with these options (false: none). @default {} */
  readonly worker?: WorkerOptions | false;
  readonly logger?: Logger;
  readonly schedules?: readonly Schedule[];
}

/** Create apps on fresh backends of `factory`; everything is stopped after each test. */
export function useHarness(factory: BackendFactory) {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  return async function app(tasks: readonly AnyTask[], options: AppOptions = {}): Promise<App> {
    let offset = 0;
    const clock: TestClock = {
      now: () => Date.now() + offset,
      advance: (ms) => {
        offset += ms;
      },
    };
    const backend = await factory.create({ now: clock.now });
    const logs: Record<string, unknown>[] = [];
    const logger =
      options.logger ??
      createLogger({
        level: 'debug',
        write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>),
      });
    const spool = createSpool({
      backend,
      tasks,
      logger,
      now: clock.now,
      ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
      ...(options.schedules === undefined ? {} : { schedules: options.schedules }),
    });
    const workers: Worker[] = [];
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await spool.close();
    });
    const startWorker = async (workerOptions: WorkerOptions = {}) => {
      const worker = spool.worker({ waitTimeSeconds: 1, shutdownGraceMs: 2000, ...workerOptions });
      workers.push(worker);
      await worker.start();
      return worker;
    };
    if (options.worker !== false) await startWorker(options.worker ?? {});
    return { spool, clock, logs, startWorker, backend };
  };
}

/** Wait until `check` returns true (polling), or fail after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Wait until the dead-letter queue holds `count` messages; returns them. */
export async function waitForDeadLetters(spool: Spool, count: number, timeoutMs = 10_000): Promise<DeadLetter[]> {
  let dead: DeadLetter[] = [];
  await waitFor(
    async () => {
      dead = await listDeadLetters(spool.backend, { limit: count + 10 });
      return dead.length === count;
    },
    timeoutMs,
    `${count} dead letter(s)`,
  );
  return dead;
}

/** Messages still on the task queue (visible or in flight). */
export async function queueDepth(spool: Spool): Promise<number> {
  const s = await spool.backend.transport.tasks.stats();
  return s.visible + s.inFlight;
}

/** A unique suffix for names. */
export function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/** A promise and its resolver. */
export function deferred<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A task (named `<prefix>.<suffix>`) whose first call waits for its signal (a stop's interrupt)
 * and fails with its reason, and whose later calls return `'finished elsewhere'`. It counts calls,
 * not `ctx.attempt`: a shutdown gives its attempt back, so the second call is attempt 1 too.
 */
export function interruptedOnce(prefix: string) {
  let calls = 0;
  return defineTask({
    name: `${prefix}.${suffix()}`,
    schema: z.object({}),
    handler: async (_a, ctx) => {
      calls++;
      if (calls === 1) {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        throw ctx.signal.reason;
      }
      return 'finished elsewhere';
    },
  });
}
