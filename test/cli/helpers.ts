/**
 * Helpers of the CLI tests: run `main` in-process with captured output, run a worker in-process
 * until told to stop, and spawn `bin/spool.mjs`.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';
import { main } from '../../lib/cli/main.js';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** The fixture app module (its function makes its own backend, at `SPOOL_DB`). */
export const APP = join(ROOT, 'test/cli/fixtures/app.ts');
/** The fixture app module whose function builds its spool on the backend the CLI passes. */
export const FACTORY_APP = join(ROOT, 'test/cli/fixtures/factory.ts');
/** The launcher. */
export const BIN = join(ROOT, 'bin/spool.mjs');

/** What one CLI invocation printed, and its exit code. */
export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A stream that keeps what is written to it. */
export function collector(): Writable & { text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

/** Run `spool <args>` in-process, in `cwd`, with `stdin` as its standard input (empty by default). */
export async function run(args: readonly string[], cwd = ROOT, stdin: string | Buffer = ''): Promise<Outcome> {
  const stdout = collector();
  const stderr = collector();
  const code = await main(['node', 'spool', ...args], {
    stdin: Readable.from(stdin.length === 0 ? [] : [stdin]),
    stdout,
    stderr,
    cwd,
    signals: new EventEmitter(),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** A temporary directory with a database path in it, set as `SPOOL_DB`; `cleanup` removes both. */
export function tempDatabase(): { readonly dir: string; readonly db: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
  const db = join(dir, 'spool.db');
  const saved = { db: process.env.SPOOL_DB, app: process.env.SPOOL_APP, level: process.env.SPOOL_LOG_LEVEL };
  process.env.SPOOL_DB = db;
  delete process.env.SPOOL_APP;
  process.env.SPOOL_LOG_LEVEL = 'silent'; // the fixture app's own (JSON) logger
  return {
    dir,
    db,
    cleanup() {
      restore('SPOOL_DB', saved.db);
      restore('SPOOL_APP', saved.app);
      restore('SPOOL_LOG_LEVEL', saved.level);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Run `spool worker --app <fixture>` (or the command `args`) in-process while `body` runs, then
 * stop it with SIGINT. `body` gets what the command printed so far.
 */
export async function withWorker<T>(
  body: (printed: { stdout(): string; stderr(): string }) => Promise<T>,
  args: readonly string[] = ['worker', '--app', APP, '--concurrency', '4'],
): Promise<T> {
  const signals = new EventEmitter();
  const stdout = collector();
  const stderr = collector();
  const worker = main(['node', 'spool', ...args], {
    stdin: Readable.from([]),
    stdout,
    stderr,
    cwd: ROOT,
    signals,
  });
  const stop = async () => {
    signals.emit('SIGINT');
    return worker;
  };
  let result: T;
  try {
    result = await body({ stdout: () => stdout.text(), stderr: () => stderr.text() });
  } catch (error) {
    await stop();
    throw error;
  }
  const code = await stop();
  if (code !== 0) throw new Error(`worker exited ${code}: ${stderr.text()}`);
  return result;
}

/** A spawned `node bin/spool.mjs`, its output so far, and a way to wait for some of it. */
export interface Spawned {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once `stream` contains `text`; rejects after `timeoutMs`. */
  waitFor(stream: 'stdout' | 'stderr', text: string, timeoutMs?: number): Promise<void>;
  /** Resolves the exit code (or the signal's name); rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
}

/**
 * Spawn the launcher with `args`, in `cwd` (default `ROOT`), with `env` over this process's
 * environment (a variable set to `undefined` is removed), and `input` written to its stdin (no
 * stdin at all when left out).
 */
export function spawnCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  options: { readonly input?: string; readonly cwd?: string } = {},
): Spawned {
  const merged: Record<string, string | undefined> = { ...process.env, SPOOL_APP: undefined, ...env };
  const childEnv = Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  const exit = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => resolveExit(code ?? signal ?? -1));
  });
  const within = <T>(promise: Promise<T>, ms: number, what: string) =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`${what} within ${ms} ms; stdout:\n${out.stdout}\nstderr:\n${out.stderr}`)),
          ms,
        ).unref(),
      ),
    ]);
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor(stream, text, timeoutMs = 15_000) {
      const seen = new Promise<void>((resolveSeen) => {
        const check = () => {
          if (out[stream].includes(text)) resolveSeen();
          else setTimeout(check, 20).unref();
        };
        check();
      });
      return within(seen, timeoutMs, `no ${JSON.stringify(text)} on ${stream}`);
    },
    exited: (timeoutMs = 15_000) => within(exit, timeoutMs, 'no exit'),
  };
}

/** What {@link useCliSandbox} gives each test: its temporary database, and spawned CLIs to clean up. */
export interface CliSandbox {
  /** This test's temporary directory and database (set as `SPOOL_DB`). */
  env(): ReturnType<typeof tempDatabase>;
  /** Track a spawned CLI: it is killed after the test if it still runs. */
  track(spawned: Spawned): Spawned;
}

/**
 * Give each test of the calling file a temporary database (`SPOOL_DB`), and kill the CLIs it
 * spawned and left running once it ends. Call it at the top of a test file.
 */
export function useCliSandbox(): CliSandbox {
  let current: ReturnType<typeof tempDatabase> | undefined;
  const children: Spawned[] = [];
  beforeEach(() => {
    current = tempDatabase();
  });
  afterEach(async () => {
    for (const spawned of children.splice(0)) {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) {
        spawned.child.kill('SIGKILL');
        await spawned.exited();
      }
    }
    current?.cleanup();
    current = undefined;
  });
  return {
    env() {
      if (current === undefined) throw new Error('useCliSandbox: env() is only available inside a test');
      return current;
    },
    track(spawned) {
      children.push(spawned);
      return spawned;
    },
  };
}
