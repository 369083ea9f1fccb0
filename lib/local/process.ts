/**
 * Processes and ports of the local endpoint: whether a pid is alive, stopping one by its pid (and
 * only it), a free loopback port, whether a port is taken, and whether an endpoint answers.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The interface the local endpoint binds: loopback only. */
export const LOOPBACK = '127.0.0.1';

/** Whether a process with this pid exists (and may be signalled by this user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the command line of `pid` mentions `word`: true or false where the OS tells (Linux's
 * /proc), undefined where it does not. Guards against stopping a process that reused a stale pid.
 */
export function commandLineMentions(pid: number, word: string): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word);
  } catch {
    return undefined;
  }
}

/** Stop a process by its pid: SIGTERM, then SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // gone in between
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const killDeadline = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < killDeadline) await sleep(50);
  }
}

/** A free TCP port on 127.0.0.1 (free when asked: another process may take it after). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Whether something listens on `host:port` already (we cannot bind it). */
export function portTaken(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolveTaken, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolveTaken(true);
      else reject(error);
    });
    server.listen(port, host, () => server.close(() => resolveTaken(false)));
  });
}

/**
 * Whether a LocalStack-compatible endpoint answers at `endpoint`: its health check
 * (`/_localstack/health`, which LocalStack and ministack both serve) returns 2xx.
 */
export async function endpointAnswers(endpoint: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(new URL('/_localstack/health', endpoint), { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
