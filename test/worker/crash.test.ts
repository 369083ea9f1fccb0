/**
 * Errors that escape handlers (lib/worker/crash.ts), in worker processes (`./fixtures/crash-worker.ts`)
 * on both backends: an error a handler's code started fails that attempt and the worker goes on;
 * one from outside any attempt releases what the worker holds and exits 1; a hard crash is taken
 * over at the lease's end. A run that keeps crashing workers ends dead after maxAttempts, with the
 * true reason.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSpool, listDeadLetters, type Spool, silentLogger, type TaskRecord } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { awsEnv, freshAwsBackend } from '../aws/resources.js';
import { crashPoolTasks } from './fixtures/crash-pool-app.js';
import { crashTasks } from './fixtures/crash-tasks.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-crash-'));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh backend: the producer the test enqueues with, and how a worker process opens it. */
interface Fresh {
  readonly producer: Spool;
  readonly where: string;
  readonly env: Record<string, string>;
}

const BACKENDS: readonly { readonly name: string; readonly fresh: () => Promise<Fresh> }[] = [
  {
    name: 'embedded',
    async fresh() {
      const path = join(dir, `${Math.random().toString(36).slice(2, 10)}.db`);
      const producer = createSpool({
        backend: openEmbeddedBackend({ path }),
        tasks: Object.values(crashTasks),
        logger: silentLogger,
      });
      return { producer, where: `embedded:${path}`, env: {} };
    },
  },
  {
    name: 'aws',
    async fresh() {
      const fresh = await freshAwsBackend();
      const producer = createSpool({ backend: fresh.backend, tasks: Object.values(crashTasks), logger: silentLogger });
      return { producer, where: 'aws', env: awsEnv(fresh) };
    },
  },
];

/** A started worker process: how it exits, what it logged, and the id of the `crash.held` run it started. */
interface WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  readonly held: Promise<string>;
  logs(): string;
}

/** Start a worker process on `fresh`'s backend; resolves once its worker has started. */
async function startWorker(fresh: Fresh, mode: 'run' | 'outside'): Promise<WorkerProcess> {
  const script = join(import.meta.dirname, 'fixtures', 'crash-worker.ts');
  const child = spawn(process.execPath, ['--conditions=spool-source', '--import', 'tsx', script, fresh.where, mode], {
    env: { ...process.env, ...fresh.env, SPOOL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let resolveHeld: (id: string) => void = () => {};
  const held = new Promise<string>((resolve) => {
    resolveHeld = resolve;
  });
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    if (line === 'ready') resolveReady();
    const match = /^held (\S+)$/.exec(line);
    if (match?.[1] !== undefined) resolveHeld(match[1]);
  });
  const early = exited.then(([code, signal]) => {
    throw new Error(`the worker process ended before it was ready (code ${code}, signal ${signal}):\n${stderr}`);
  });
  await Promise.race([ready, early]);
  early.catch(() => {});
  return { child, exited, held, logs: () => stderr };
}

/** Poll until `check` holds (no fixed sleeps: the machine may be loaded). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The run's record once it is in `state`. */
async function recordIn(spool: Spool, id: string, state: TaskRecord['state']): Promise<TaskRecord> {
  let record: TaskRecord | undefined;
  await until(async () => {
    record = await spool.handle(id).info();
    return record?.state === state;
  }, `run ${id} to be ${state} (it is ${record?.state})`);
  return record as TaskRecord;
}

/** End a worker process that is still running (SIGTERM: it drains and exits). */
async function stop(worker: WorkerProcess): Promise<void> {
  worker.child.kill('SIGTERM');
  await worker.exited;
}

describe.skipIf(process.platform === 'win32').each(BACKENDS)(
  'a worker process and crashes ($name)',
  ({ fresh: make }) => {
    async function fresh(): Promise<Fresh> {
      const made = await make();
      cleanups.push(() => made.producer.close());
      return made;
    }

    it('GIVEN handlers whose errors escape them (a throw in a timer, a floating rejection, a thrown string) WHEN they run THEN each attempt fails with an UnhandledError carrying the thrown value, retried per its policy, AND the worker goes on running other tasks', async () => {
      const f = await fresh();
      const worker = await startWorker(f, 'run');
      const timer = await f.producer.enqueue(crashTasks.timer, {});
      const floating = await f.producer.enqueue(crashTasks.floating, {});
      const nonError = await f.producer.enqueue(crashTasks.nonError, {});

      const timerDead = await recordIn(f.producer, timer.id, 'dead');
      expect(timerDead.attempt).toBe(2); // maxAttempts 2: retried once
      expect(timerDead.error?.name).toBe('UnhandledError');
      expect(timerDead.error?.message).toMatch(/^TypeError: boom in a timer \(thrown outside the handler/);
      const floatingDead = await recordIn(f.producer, floating.id, 'dead');
      expect(floatingDead.error?.name).toBe('UnhandledError');
      expect(floatingDead.error?.message).toMatch(/^RangeError: a floating rejection \(a promise this attempt made/);
      const nonErrorDead = await recordIn(f.producer, nonError.id, 'dead');
      expect(nonErrorDead.error?.message).toMatch(/^a non-Error value was thrown: "a plain string"/);

      const ok = await f.producer.enqueue(crashTasks.ok, {});
      await expect(ok.result({ timeoutMs: 30_000 })).resolves.toEqual({ ok: true });
      expect(worker.child.exitCode).toBeNull();
      expect(worker.logs()).toMatch(
        new RegExp(`"message":"an error escaped the handler; the attempt failed with it".*"taskId":"${timer.id}"`),
      );
      await stop(worker);
    }, 120_000);

    it('GIVEN a handler that returned, leaving a promise that rejects later WHEN it rejects THEN the run stays succeeded AND the worker logs it with the task id and goes on', async () => {
      const f = await fresh();
      const worker = await startWorker(f, 'run');
      const late = await f.producer.enqueue(crashTasks.late, {});
      await expect(late.result({ timeoutMs: 30_000 })).resolves.toEqual({ ok: true });
      await until(
        async () => worker.logs().includes('an error escaped the handler after its attempt ended'),
        'the late rejection to be logged',
      );
      expect(worker.logs()).toMatch(
        new RegExp(
          `"message":"an error escaped the handler after its attempt ended; the recorded outcome stands".*"taskId":"${late.id}"`,
        ),
      );
      expect(await late.status()).toBe('succeeded');
      const ok = await f.producer.enqueue(crashTasks.ok, {});
      await expect(ok.result({ timeoutMs: 30_000 })).resolves.toEqual({ ok: true });
      expect(worker.child.exitCode).toBeNull();
      await stop(worker);
    }, 120_000);

    it('GIVEN a worker holding a run WHEN a timer started outside any handler throws THEN the process exits 1 having released the run as a counted WorkerCrashed attempt, AND when that happens on its last attempt too THEN the run is dead, and dead-lettered, with that reason', async () => {
      const f = await fresh();
      const held = await f.producer.enqueue(crashTasks.held, {});

      const first = await startWorker(f, 'outside');
      expect(await first.held).toBe(held.id);
      expect((await first.exited)[0]).toBe(1);
      const released = await recordIn(f.producer, held.id, 'retrying');
      expect(released.attempt).toBe(1);
      expect(released.error?.name).toBe('WorkerCrashed');
      expect(released.error?.message).toMatch(
        /crashed while this attempt ran: Error: a timer outside any handler threw/,
      );

      const second = await startWorker(f, 'outside');
      expect(await second.held).toBe(held.id);
      expect((await second.exited)[0]).toBe(1);
      const dead = await recordIn(f.producer, held.id, 'dead');
      expect(dead.attempt).toBe(2);
      expect(dead.error?.name).toBe('WorkerCrashed');
      const letters = await listDeadLetters(f.producer.backend, { limit: 10 });
      expect(letters.map((l) => ({ taskId: l.taskId, errorName: l.errorName }))).toEqual([
        { taskId: held.id, errorName: 'WorkerCrashed' },
      ]);
      expect(letters[0]?.reason).toMatch(/a timer outside any handler threw.*\(attempt 2 of 2, no attempts left\)/);
    }, 120_000);

    it('GIVEN a poison task that kills its worker process outright (no listener runs) WHEN a worker runs it each time THEN after maxAttempts the next worker dead-letters it, saying the attempt never finished because its worker died', async () => {
      const f = await fresh();
      const poison = await f.producer.enqueue(crashTasks.kill, {});
      for (let attempt = 1; attempt <= 2; attempt++) {
        const worker = await startWorker(f, 'run');
        expect(await worker.exited).toEqual([null, 'SIGKILL']);
      }
      const last = await startWorker(f, 'run');
      const dead = await recordIn(f.producer, poison.id, 'dead');
      expect(dead.attempt).toBe(2);
      expect(dead.error?.name).toBe('LeaseExpired');
      expect(dead.error?.message).toMatch(
        /^attempt 2 of 2 never finished: its lease expired, so the worker running it died/,
      );
      // The record is dead a moment before its message reaches the dead-letter queue.
      let letters: Awaited<ReturnType<typeof listDeadLetters>> = [];
      await until(async () => {
        letters = await listDeadLetters(f.producer.backend, { limit: 10 });
        return letters.length > 0;
      }, 'the dead letter');
      expect(letters.map((l) => l.errorName)).toEqual(['LeaseExpired']);
      await stop(last);
    }, 120_000);
  },
);

describe.each(['threads', 'processes'] as const)('a pooled handler whose error escapes it (%s)', (kind) => {
  it('GIVEN a pool member whose handler throws in a timer WHEN it runs THEN only that attempt fails, with an UnhandledError carrying the thrown value, AND the member goes on to run the next attempt', async () => {
    const path = join(dir, `pool-${kind}.db`);
    process.env.SPOOL_CRASH_POOL_DB = path;
    const spool = createSpool({
      backend: openEmbeddedBackend({ path }),
      tasks: Object.values(crashPoolTasks),
      logger: silentLogger,
    });
    cleanups.push(() => spool.close());
    // The escaped error is the member's: this (vitest's) process needs no listener of spool's.
    const worker = spool.worker({
      waitTimeSeconds: 1,
      runSchedules: false,
      crashes: false,
      pool: { kind, app: new URL('./fixtures/crash-pool-app.ts', import.meta.url), size: 1 },
    });
    cleanups.push(() => worker.stop());
    await worker.start();
    const timer = await spool.enqueue(crashPoolTasks.timer, {});
    const dead = await recordIn(spool, timer.id, 'dead');
    expect(dead.error?.name).toBe('UnhandledError');
    expect(dead.error?.message).toMatch(/^TypeError: boom in a pooled timer \(thrown outside the handler/);
    const first = await spool.enqueue(crashPoolTasks.ok, {});
    const second = await spool.enqueue(crashPoolTasks.ok, {});
    const [a, b] = await Promise.all([first.result({ timeoutMs: 30_000 }), second.result({ timeoutMs: 30_000 })]);
    expect(a?.pid).toBe(b?.pid); // one member ran both, after the escaped error
  }, 60_000);
});
