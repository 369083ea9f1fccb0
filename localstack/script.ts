/**
 * What the local endpoints' command-line scripts (`ministack.ts`, `elasticmq.ts`) share: running a
 * module as a script, and `stop` by the pid file a `start` wrote.
 *
 * @module
 */

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { stopPid } from '../lib/local/process.js';

/**
 * Run `cli(process.argv[2])` when the module at `moduleFile` is the script node was started with;
 * its result is the exit code, and an error is printed as `<name>: <message>` with exit code 1.
 */
export function runAsScript(
  moduleFile: string,
  name: string,
  cli: (command: string | undefined) => Promise<number>,
): void {
  if (process.argv[1] === undefined || resolve(process.argv[1]) !== resolve(moduleFile)) return;
  cli(process.argv[2]).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * `stop`: stop the process the pid file names, when `isOurs(pid)` says it is the server (a stale
 * pid file may name a process that reused the pid), and remove the file. Resolves the exit code.
 */
export async function stopByPidFile(
  name: string,
  pidFile: string,
  isOurs: (pid: number) => boolean = () => true,
): Promise<number> {
  if (!existsSync(pidFile)) {
    process.stdout.write(`${name} is not running (no pid file)\n`);
    return 0;
  }
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (isOurs(pid)) await stopPid(pid);
  rmSync(pidFile, { force: true });
  process.stdout.write(`${name} (pid ${pid}) stopped\n`);
  return 0;
}
