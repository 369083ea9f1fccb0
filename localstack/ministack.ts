/**
 * ministack, the local AWS endpoint of the build machines, for this repository: a thin wrapper over
 * the runner that ships in the package (`lib/local/`), with the repository's own places — the
 * virtualenv in `.venv/` and the pid file `.spool/ministack.pid` — and its own pins.
 *
 * The virtualenv holds exactly what `localstack/requirements.txt` pins: ministack and every package
 * it imports, each `==` one version with the sha256 of each of its files on PyPI, installed with
 * `pip install --require-hashes --no-deps --only-binary :all:` (nothing unpinned is fetched, nothing
 * is built from source). The file's sha256 is recorded in `.venv/spool-requirements.sha256`: while it
 * matches, `install` does nothing (no Python started); a changed file makes the virtualenv anew.
 * To move ministack on, change MINISTACK_VERSION in lib/local/ministack.ts, then
 *   node .ci/ministack-requirements.mjs --update   # resolve again (uv, in a throwaway venv), write the file, verify it
 *   node .ci/ministack-requirements.mjs --check    # every line pinned and hashed (.ci/run runs it before the install)
 *
 * As a command:
 *   npx tsx localstack/ministack.ts start   # on 127.0.0.1:4566 (GATEWAY_PORT to change); pid in .spool/ministack.pid
 *   npx tsx localstack/ministack.ts stop
 *   npx tsx localstack/ministack.ts install # only create .venv from localstack/requirements.txt
 * From code: `startMinistack({ port })` resolves `{ endpoint, stop }` (vitest's globalSetup uses it).
 * Users of the package run the same thing as `spool local start|stop|status`.
 *
 * @module
 */

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { localAwsEnvironment, shellExports } from '../lib/local/env.js';
import {
  installMinistack as installInto,
  MINISTACK_VERSION,
  type RunningEndpoint,
  startMinistack as startFrom,
} from '../lib/local/ministack.js';
import { freePort, stopPid } from '../lib/local/process.js';
import { runAsScript, stopByPidFile } from './script.js';

export { freePort, MINISTACK_VERSION, type RunningEndpoint, stopPid };

const ROOT = resolve(import.meta.dirname, '..');
/** The repository's virtualenv (`.ci/run` installs into it; the tests of `spool local` reuse it). */
export const REPO_VENV = join(ROOT, '.venv');
const PID_FILE = join(ROOT, '.spool', 'ministack.pid');
/** ministack and its dependencies, pinned with their hashes (`node .ci/ministack-requirements.mjs --update` writes it). */
export const REPO_REQUIREMENTS = join(ROOT, 'localstack', 'requirements.txt');

/** Create `.venv` with what `localstack/requirements.txt` pins, unless it was installed from that file already. */
export function installMinistack(log: (line: string) => void = () => {}): void {
  installInto({ venvDir: REPO_VENV, requirementsFile: REPO_REQUIREMENTS, log });
}

/** Start ministack from `.venv` on 127.0.0.1:`port` (installing it first) and wait until it answers. */
export async function startMinistack(options: { port?: number; logFile?: string } = {}): Promise<RunningEndpoint> {
  installMinistack((line) => process.stderr.write(`${line}\n`));
  const port = options.port ?? 4566;
  mkdirSync(join(ROOT, '.spool'), { recursive: true });
  return startFrom({
    venvDir: REPO_VENV,
    port,
    logFile: options.logFile ?? join(ROOT, '.spool', `ministack-${port}.log`),
  });
}

async function cli(command: string | undefined): Promise<number> {
  if (command === 'start') {
    if (existsSync(PID_FILE)) {
      process.stderr.write(`ministack already started (pid file ${PID_FILE}); run 'stop' first\n`);
      return 1;
    }
    const port = Number(process.env.GATEWAY_PORT ?? 4566);
    const running = await startMinistack({ port });
    writeFileSync(PID_FILE, String(running.pid));
    process.stdout.write(`ministack ${MINISTACK_VERSION} on ${running.endpoint} (pid ${running.pid})\n`);
    process.stdout.write(shellExports(localAwsEnvironment(running.endpoint)).replaceAll('\nexport ', ' '));
    return 0;
  }
  if (command === 'install') {
    installMinistack((line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`ministack ${MINISTACK_VERSION} installed in ${REPO_VENV}\n`);
    return 0;
  }
  if (command === 'stop') return stopByPidFile('ministack', PID_FILE);
  process.stderr.write('usage: tsx localstack/ministack.ts install|start|stop\n');
  return 2;
}

runAsScript(import.meta.filename, 'ministack', cli);
