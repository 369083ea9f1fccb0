/**
 * The local AWS endpoint of a user's project (`spool local start|stop|status`): ministack in a
 * project-local virtualenv, on 127.0.0.1:`port`, its pid and port recorded in a pid file so that
 * `stop` stops that process and no other. Or an endpoint the user runs (LocalStack, ministack),
 * which is only checked.
 *
 * Files, under the project root (the nearest directory with a package.json):
 *
 * | path | what |
 * | --- | --- |
 * | `.spool/ministack/venv/` | the virtualenv (created on first start) |
 * | `.spool/ministack/ministack.pid.json` | pid, port, endpoint of the running server |
 * | `.spool/ministack/ministack-<port>.log` | its output |
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigurationError } from '../task/errors.js';
import { installMinistack, MINISTACK_VERSION, startMinistack } from './ministack.js';
import { commandLineMentions, endpointAnswers, isAlive, stopPid } from './process.js';

/** The port of the local endpoint unless told otherwise (LocalStack's). */
export const DEFAULT_LOCAL_PORT = 4566;

/** Where a project's local endpoint keeps its files. */
export interface LocalPaths {
  /** The project root. */
  readonly root: string;
  /** `<root>/.spool/ministack`. */
  readonly dir: string;
  /** The virtualenv. */
  readonly venv: string;
  /** The pid file (JSON: {@link LocalEndpointState}). */
  readonly pidFile: string;
}

/** What the pid file records about a running server. */
export interface LocalEndpointState {
  readonly pid: number;
  readonly port: number;
  readonly endpoint: string;
  readonly version: string;
  readonly logFile: string;
  /** ISO 8601. */
  readonly startedAt: string;
}

/** The nearest directory at or above `cwd` with a package.json, else `cwd`. */
export function findProjectRoot(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(cwd);
    dir = parent;
  }
}

/** The local endpoint's files under `root`; `venv` overrides the virtualenv's place. */
export function localPaths(root: string, venv?: string): LocalPaths {
  const dir = join(root, '.spool', 'ministack');
  return {
    root,
    dir,
    venv: venv === undefined ? join(dir, 'venv') : resolve(root, venv),
    pidFile: join(dir, 'ministack.pid.json'),
  };
}

/** The recorded state, if the pid file exists and parses. */
export function readState(paths: LocalPaths): LocalEndpointState | undefined {
  if (!existsSync(paths.pidFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(paths.pidFile, 'utf8')) as Partial<LocalEndpointState>;
    if (typeof state.pid !== 'number' || typeof state.port !== 'number' || typeof state.endpoint !== 'string') {
      return undefined;
    }
    return state as LocalEndpointState;
  } catch {
    return undefined;
  }
}

/** The status of a project's local endpoint. */
export type LocalEndpointStatus =
  /** Running: its process is alive and it answers. */
  | { readonly state: 'running'; readonly endpoint: LocalEndpointState }
  /** Its process is alive but does not answer (starting, hung, or a pid reused by another program). */
  | { readonly state: 'not-answering'; readonly endpoint: LocalEndpointState }
  /** Not running: no pid file, or its process is gone (the stale file is removed). */
  | { readonly state: 'stopped' };

/** Whether the project's endpoint runs, from its pid file; a stale pid file is removed. */
export async function localEndpointStatus(paths: LocalPaths): Promise<LocalEndpointStatus> {
  const recorded = readState(paths);
  if (recorded === undefined) {
    rmSync(paths.pidFile, { force: true });
    return { state: 'stopped' };
  }
  if (!isAlive(recorded.pid) || commandLineMentions(recorded.pid, 'ministack') === false) {
    rmSync(paths.pidFile, { force: true });
    return { state: 'stopped' };
  }
  return (await endpointAnswers(recorded.endpoint))
    ? { state: 'running', endpoint: recorded }
    : { state: 'not-answering', endpoint: recorded };
}

/** Options of {@link startLocalEndpoint}. */
export interface StartLocalOptions {
  /** @default DEFAULT_LOCAL_PORT (4566) */
  readonly port?: number;
  /** Progress lines (installation). @default none */
  readonly log?: (line: string) => void;
}

/** What {@link startLocalEndpoint} did. */
export interface StartedLocalEndpoint {
  readonly endpoint: LocalEndpointState;
  /** True when it was running already (nothing was started). */
  readonly alreadyRunning: boolean;
}

/**
 * Start the project's endpoint: install ministack into the virtualenv on first use, start it on
 * 127.0.0.1:`port`, wait until it answers, and write the pid file. When the pid file names a
 * server that runs and answers, that one is returned (`alreadyRunning`); asking for another port
 * then is an error.
 */
export async function startLocalEndpoint(
  paths: LocalPaths,
  options: StartLocalOptions = {},
): Promise<StartedLocalEndpoint> {
  const port = options.port ?? DEFAULT_LOCAL_PORT;
  const status = await localEndpointStatus(paths);
  if (status.state !== 'stopped') {
    if (status.endpoint.port !== port && options.port !== undefined) {
      throw new ConfigurationError(
        `the local endpoint of ${paths.root} already runs on port ${status.endpoint.port} (pid ${status.endpoint.pid}), not ${port}. ` +
          'Use it as it is, or stop it first (spool local stop) and start again with --port.',
      );
    }
    if (status.state === 'running') return { endpoint: status.endpoint, alreadyRunning: true };
    throw new ConfigurationError(
      `the local endpoint of ${paths.root} (pid ${status.endpoint.pid}) is running but does not answer at ${status.endpoint.endpoint}; ` +
        `its log: ${status.endpoint.logFile}. Stop it (spool local stop) and start it again.`,
    );
  }
  installMinistack({ venvDir: paths.venv, ...(options.log === undefined ? {} : { log: options.log }) });
  mkdirSync(paths.dir, { recursive: true });
  const running = await startMinistack({
    venvDir: paths.venv,
    port,
    logFile: join(paths.dir, `ministack-${port}.log`),
  });
  const state: LocalEndpointState = {
    pid: running.pid,
    port: running.port,
    endpoint: running.endpoint,
    version: MINISTACK_VERSION,
    logFile: running.logFile,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(paths.pidFile, `${JSON.stringify(state, null, 2)}\n`);
  return { endpoint: state, alreadyRunning: false };
}

/**
 * Stop the project's endpoint by the pid in its pid file (that process only), and remove the pid
 * file. Resolves what was stopped, or undefined when nothing ran (or when a pid that no longer
 * answers cannot be shown to be ministack's, off Linux: then only the pid file is removed).
 */
export async function stopLocalEndpoint(paths: LocalPaths): Promise<LocalEndpointState | undefined> {
  const status = await localEndpointStatus(paths);
  if (status.state === 'stopped') return undefined;
  // Where the process's command line cannot be read (off Linux), a pid that does not answer as the
  // endpoint may be another program's by now: forget it rather than signal it.
  if (status.state === 'not-answering' && commandLineMentions(status.endpoint.pid, 'ministack') === undefined) {
    rmSync(paths.pidFile, { force: true });
    return undefined;
  }
  await stopPid(status.endpoint.pid);
  rmSync(paths.pidFile, { force: true });
  return status.endpoint;
}

/**
 * Check that an endpoint the user runs answers (LocalStack's health check); throws a
 * {@link ConfigurationError} saying how to start one when it does not.
 */
export async function checkEndpoint(endpoint: string): Promise<void> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(
      `--endpoint ${JSON.stringify(endpoint)} is not an http(s) URL. Pass one such as http://127.0.0.1:4566.`,
    );
  }
  if (!(await endpointAnswers(endpoint))) {
    throw new ConfigurationError(
      `no AWS endpoint answers at ${endpoint} (GET ${new URL('/_localstack/health', endpoint).href} failed). ` +
        'Start LocalStack or ministack there, fix the URL, or leave --endpoint out to let spool start ministack for this project.',
    );
  }
}
