/**
 * A private, in-memory `redis-server` for the benchmark: started on 127.0.0.1 at a free random
 * port in a temporary directory (`--save '' --appendonly no`: nothing is written to disk), and
 * stopped by its pid (SIGTERM, then SIGKILL after 5 s). Nothing is installed from here.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What to tell a person whose machine has no `redis-server`. */
export const REDIS_NOT_FOUND_MESSAGE =
  "redis-server not found: install it with 'sudo apt-get install -y redis-server' (Debian/Ubuntu) or 'brew install redis' (macOS)";

/** Thrown by {@link startRedis} when no `redis-server` executable exists. */
export class RedisNotFoundError extends Error {
  override name = 'RedisNotFoundError';
  constructor() {
    super(REDIS_NOT_FOUND_MESSAGE);
  }
}

/** A running redis-server started by {@link startRedis}. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** `redis-server --version`'s version, e.g. `7.0.15`. */
  readonly version: string;
  /** The executable that runs. */
  readonly executable: string;
  /** Stop the server (SIGTERM, SIGKILL after 5 s) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** How long redis-server gets to answer PING after it was started, ms. */
const READY_TIMEOUT_MS = 10_000;
/** How long SIGTERM gets before SIGKILL, ms. */
const KILL_AFTER_MS = 5_000;

/** Where `redis-server` is: `$REDIS_SERVER`, Debian's `/usr/bin/redis-server`, else the first on `$PATH`. */
export function findRedisServer(): string | undefined {
  const fromEnv = process.env.REDIS_SERVER;
  const candidates = [
    ...(fromEnv === undefined || fromEnv === '' ? [] : [fromEnv]),
    '/usr/bin/redis-server',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir !== '')
      .map((dir) => join(dir, 'redis-server')),
  ];
  return candidates.find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Start a private in-memory redis-server and wait until it answers PING.
 *
 * @throws RedisNotFoundError when there is no `redis-server`; Error when it does not come up.
 */
export async function startRedis(): Promise<RedisServer> {
  const executable = findRedisServer();
  if (executable === undefined) throw new RedisNotFoundError();
  const version = /v=(\S+)/.exec(execFileSync(executable, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  let lastError: unknown;
  // A free port found by binding port 0 may be taken before redis binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'spool-bench-redis-'));
    const child = spawn(
      executable,
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        join(dir, 'redis.log'),
        '--daemonize',
        'no',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const stop = stopper(child, dir);
    try {
      if (child.pid === undefined) throw new Error(`could not spawn ${executable}`);
      await waitForPing(child, port);
      return { host: HOST, port, pid: child.pid, version, executable, stop };
    } catch (error) {
      lastError = new Error(`${error instanceof Error ? error.message : String(error)}${logTail(dir)}`);
      await stop();
    }
  }
  throw lastError;
}

/** Stops `child` once (SIGTERM, SIGKILL after 5 s), removes `dir`, and does so on SIGINT and exit too. */
function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  const onExit = () => {
    // Last resort on process.exit: no time to wait, so kill outright.
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const onSigint = () => {
    void stop().finally(() => process.exit(130));
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('SIGINT', onSigint);
      const pid = child.pid;
      if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
        signal(pid, 'SIGTERM');
        const timer = setTimeout(() => signal(pid, 'SIGKILL'), KILL_AFTER_MS);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  process.on('SIGINT', onSigint);
  process.on('exit', onExit);
  return stop;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port found'))));
    });
  });
}

/** Resolves once redis answers `+PONG` on `port`; rejects if the process exits or after 10 s. */
async function waitForPing(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) before answering PING`);
    }
    if (await ping(port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server did not answer PING on ${HOST}:${port} within ${READY_TIMEOUT_MS} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function logTail(dir: string): string {
  try {
    const lines = readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-5);
    return lines.length > 0 && lines[0] !== '' ? `\nredis.log:\n${lines.join('\n')}` : '';
  } catch {
    return '';
  }
}
