/**
 * ministack, a LocalStack-compatible AWS emulator from PyPI that needs no Docker: installed into
 * a virtualenv, started on 127.0.0.1 only (its `BIND_HOST`; it would bind 0.0.0.0 by default) with
 * the listeners spool does not need turned off (IoT MQTT on 8883, SFTP), waited for until it
 * answers, and stopped by its pid.
 *
 * The virtualenv layout differs by platform: `bin/python` on Linux and macOS,
 * `Scripts\python.exe` on Windows. ministack runs as `<venv python> -m ministack`, so the pid
 * spool keeps is the server's own on every platform (Windows' `Scripts\ministack.exe` is a
 * launcher whose pid is not the server's).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigurationError, SpoolError } from '../task/errors.js';
import { endpointAnswers, isAlive, LOOPBACK, portTaken, sleep, stopPid } from './process.js';

/** The ministack release spool is tested with. */
export const MINISTACK_VERSION = '1.5.33';

/** The AWS services spool uses (ministack starts only these). */
export const MINISTACK_SERVICES =
  'sqs,dynamodb,scheduler,lambda,s3,iam,sts,cloudformation,ssm,logs,events,apigateway,ecr,kms';

/** How long {@link startMinistack} waits for the endpoint to answer. */
export const MINISTACK_START_TIMEOUT_MS = 60_000;

/** Paths inside a virtualenv. */
export interface VenvLayout {
  /** The virtualenv's directory. */
  readonly dir: string;
  /** `bin` (POSIX) or `Scripts` (Windows). */
  readonly binDir: string;
  /** Its Python interpreter: `bin/python` or `Scripts\python.exe`. */
  readonly python: string;
}

/** The layout of the virtualenv at `dir` on `platform`. */
export function venvLayout(dir: string, platform: NodeJS.Platform = process.platform): VenvLayout {
  const windows = platform === 'win32';
  const binDir = join(dir, windows ? 'Scripts' : 'bin');
  return { dir, binDir, python: join(binDir, windows ? 'python.exe' : 'python') };
}

/** Options of {@link installMinistack} that hold with or without a requirements file. */
interface InstallCommonOptions {
  /** Where the virtualenv is (created if missing). */
  readonly venvDir: string;
  /** The Python that creates the virtualenv. @default env PYTHON, else `python3` (`python` on Windows) */
  readonly python?: string;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

/**
 * Options of {@link installMinistack}: a version for pip to resolve, or a requirements file that
 * pins ministack and every dependency with their hashes (the two exclude each other).
 */
export type InstallOptions = InstallCommonOptions &
  (
    | {
        /** @default MINISTACK_VERSION */
        readonly version?: string;
        readonly requirementsFile?: never;
      }
    | {
        readonly version?: never;
        /**
         * A requirements file that pins ministack and every package it imports with `==` and
         * `--hash=sha256:…` (the repository's `localstack/requirements.txt`). pip installs exactly
         * that file (`--require-hashes --no-deps --only-binary :all:`): nothing unpinned, nothing
         * built from source. The file's sha256 is recorded in the virtualenv
         * ({@link REQUIREMENTS_MARKER}); while it matches, installing does nothing, and when it
         * differs the virtualenv is made anew.
         */
        readonly requirementsFile: string;
      }
  );

/** The file in the virtualenv that records the sha256 of the requirements file it was installed from. */
export const REQUIREMENTS_MARKER = 'spool-requirements.sha256';

/** The version of ministack installed in the virtualenv at `venvDir`, if any. */
export function installedMinistackVersion(venvDir: string): string | undefined {
  const { python } = venvLayout(venvDir);
  if (!existsSync(python)) return undefined;
  try {
    return execFileSync(python, ['-c', 'import importlib.metadata as m; print(m.version("ministack"))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Make sure the virtualenv at `venvDir` has ministack: create it with `python -m venv` and
 * `pip install` into it, unless it is there already. With `version` (the default), "there" means
 * that version is installed, and pip resolves its dependencies from the index. With
 * `requirementsFile`, it means the virtualenv was installed from a file of that sha256, and pip
 * installs only what the file pins, each file checked against its hash. Throws a
 * {@link ConfigurationError} that says what to install when Python or its venv module is missing,
 * or when pip fails.
 */
export function installMinistack(options: InstallOptions): void {
  const venv = venvLayout(options.venvDir);
  const file = options.requirementsFile;
  const pinned = file === undefined ? undefined : readRequirements(file);
  const version = pinned?.ministack ?? options.version ?? MINISTACK_VERSION;
  const installed = () =>
    pinned === undefined ? installedMinistackVersion(venv.dir) === version : recordedHash(venv) === pinned.sha256;
  if (installed()) return;
  // Test runs side by side may each find it missing: one installs, the others wait and then find it there.
  withInstallLock(venv.dir, () => {
    if (!installed()) install(options, venv, version, pinned);
  });
}

/** The install itself (under the lock): a new virtualenv if needed, then pip. */
function install(
  options: InstallOptions,
  venv: VenvLayout,
  version: string,
  pinned: { readonly sha256: string } | undefined,
): void {
  const file = options.requirementsFile;
  const log = options.log ?? (() => {});
  const python = options.python ?? process.env.PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3');
  // Installed from other pins (or by hand): start from an empty virtualenv, so that nothing the file
  // does not pin stays behind.
  if (pinned !== undefined && existsSync(join(venv.dir, 'pyvenv.cfg')))
    rmSync(venv.dir, { recursive: true, force: true });
  const creating = !existsSync(venv.python);
  log(
    `installing ministack ${version} into ${venv.dir} (a virtualenv; ${pinned === undefined ? 'first start only' : `pinned with hashes by ${file}`})`,
  );
  try {
    if (creating) {
      mkdirSync(dirname(venv.dir), { recursive: true });
      execFileSync(python, ['-m', 'venv', venv.dir], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    }
  } catch (error) {
    // A half-made virtualenv (no pip in it) would fail every later start: remove it.
    if (creating) rmSync(venv.dir, { recursive: true, force: true });
    throw new ConfigurationError(
      `could not create a Python virtualenv with \`${python} -m venv ${venv.dir}\` (${describeExecError(error)}). ` +
        'The local endpoint (ministack, from PyPI) needs Python 3.10 or newer with its venv module: ' +
        'Debian/Ubuntu: apt-get install python3 python3-venv; macOS: brew install python; Windows: the python.org installer. ' +
        'Set PYTHON to the interpreter if it has another name, or run LocalStack yourself and pass --endpoint <url>.',
      { cause: error },
    );
  }
  const what =
    file === undefined
      ? [`ministack==${version}`]
      : ['--require-hashes', '--no-deps', '--only-binary', ':all:', '-r', file];
  try {
    execFileSync(
      venv.python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', ...what],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      },
    );
  } catch (error) {
    throw new ConfigurationError(
      `could not install ministack ${version} into ${venv.dir} with pip (${describeExecError(error)}). ` +
        (file === undefined
          ? 'pip needs to reach PyPI (or your index: PIP_INDEX_URL). Retry when online, or run LocalStack yourself and pass --endpoint <url>.'
          : `pip needs to reach PyPI (or your index: PIP_INDEX_URL), and each file it downloads must have a hash that ${file} lists ` +
            '(a "THESE PACKAGES DO NOT MATCH THE HASHES" error means the index served another file: do not edit the hash, find out why). ' +
            'Retry when online, or run LocalStack yourself and pass --endpoint <url>.'),
      { cause: error },
    );
  }
  if (pinned !== undefined) writeFileSync(join(venv.dir, REQUIREMENTS_MARKER), `${pinned.sha256}\n`);
}

/** How long {@link installMinistack} waits for another process's install into the same virtualenv. */
export const MINISTACK_INSTALL_WAIT_MS = 300_000;

/**
 * Run `body` holding `<venvDir>.lock`, a directory (created atomically) with the holder's pid in it.
 * A lock whose holder has exited, or that has had no pid for 10 s, is taken over; after
 * {@link MINISTACK_INSTALL_WAIT_MS} of waiting, a {@link ConfigurationError} says what holds it.
 */
function withInstallLock(venvDir: string, body: () => void): void {
  const lock = `${venvDir}.lock`;
  const pidFile = join(lock, 'pid');
  const deadline = Date.now() + MINISTACK_INSTALL_WAIT_MS;
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readPid(pidFile);
    const stale = holder === undefined ? ageMs(lock) > 10_000 : !isAlive(holder);
    if (stale) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ConfigurationError(
        `another process (pid ${holder ?? 'unknown'}) has been installing ministack into ${venvDir} for over ${MINISTACK_INSTALL_WAIT_MS / 1000} s (lock ${lock}). ` +
          `Wait for it to finish, or stop it; if no install is running, remove ${lock}.`,
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250); // a synchronous sleep
  }
  try {
    writeFileSync(pidFile, String(process.pid));
    body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** A requirements file's sha256 and the ministack version it pins (if it names one). */
function readRequirements(file: string): { readonly sha256: string; readonly ministack: string | undefined } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      `cannot read the requirements file ${file} (${describeExecError(error)}). Pass the path of a file that pins ministack with hashes, or leave requirementsFile out.`,
      { cause: error },
    );
  }
  return {
    sha256: createHash('sha256').update(text).digest('hex'),
    ministack: /^ministack==([^\s;\\]+)/im.exec(text)?.[1],
  };
}

/** The sha256 recorded by the last install from a requirements file, if any. */
function recordedHash(venv: VenvLayout): string | undefined {
  if (!existsSync(venv.python)) return undefined;
  try {
    return readFileSync(join(venv.dir, REQUIREMENTS_MARKER), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A started endpoint. */
export interface RunningEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Where its output goes. */
  readonly logFile: string;
  /** Stop it by its pid (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Options of {@link startMinistack}. */
export interface StartOptions {
  /** The virtualenv with ministack in it (see {@link installMinistack}). */
  readonly venvDir: string;
  /** @default 4566 */
  readonly port?: number;
  /** Where its output goes. @default `<venvDir>/../ministack-<port>.log` */
  readonly logFile?: string;
  /** Extra environment of the server. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Start ministack from the virtualenv on 127.0.0.1:`port` and resolve once it answers. The server
 * is its own process group (detached), so it outlives the caller until stopped by its pid. Throws
 * when the port is taken, or when it exits or does not answer within 60 s (with its log's tail).
 */
export async function startMinistack(options: StartOptions): Promise<RunningEndpoint> {
  const port = options.port ?? 4566;
  const endpoint = `http://${LOOPBACK}:${port}`;
  const venv = venvLayout(options.venvDir);
  if (!existsSync(venv.python)) {
    throw new ConfigurationError(
      `no virtualenv at ${venv.dir} (${venv.python} is missing). Install ministack into it first (installMinistack, or \`spool local start\`, which installs on first use).`,
    );
  }
  if (await portTaken(port)) {
    throw new ConfigurationError(
      `port ${port} on ${LOOPBACK} is already in use${(await endpointAnswers(endpoint)) ? ', by an AWS endpoint (LocalStack or ministack) that answers there' : ''}. ` +
        `Pass another port (--port ${port + 1}), stop what listens on ${port}, or use the running endpoint: --endpoint ${endpoint}.`,
    );
  }
  const logFile = options.logFile ?? join(dirname(venv.dir), `ministack-${port}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(venv.python, ['-m', 'ministack'], {
      env: {
        ...process.env,
        BIND_HOST: LOOPBACK,
        GATEWAY_PORT: String(port),
        // What Lambda functions run by ministack get as AWS_ENDPOINT_URL (loopback, no DNS needed).
        AWS_ENDPOINT_URL: endpoint,
        MINISTACK_HOST: 'localhost.localstack.cloud',
        SERVICES: MINISTACK_SERVICES,
        IOT_MTLS_ENABLED: '0',
        SFTP_ENABLED: '0',
        LOG_LEVEL: 'WARNING',
        ...options.env,
      },
      stdio: ['ignore', out, out],
      detached: true,
      windowsHide: true,
    });
  } finally {
    closeSync(out); // the child has its own copy
  }
  const pid = child.pid;
  if (pid === undefined) {
    const failed = await new Promise<Error | undefined>((r) => child.once('error', r));
    throw new SpoolError(`could not start ${venv.python} -m ministack: ${failed?.message ?? 'no pid'}; see ${logFile}`);
  }
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + MINISTACK_START_TIMEOUT_MS;
  for (;;) {
    const early = await Promise.race([exited, sleep(250).then(() => 'waiting' as const)]);
    if (early !== 'waiting') {
      throw new SpoolError(
        `ministack exited (code ${early}) before it was ready; its log, ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (await endpointAnswers(endpoint, 1000)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new SpoolError(
        `ministack did not answer on ${endpoint} within ${MINISTACK_START_TIMEOUT_MS / 1000} s; its log, ${logFile}:\n${tail(logFile)}`,
      );
    }
  }
  child.unref();
  return { endpoint, port, pid, logFile, stop: () => stopPid(pid) };
}

/** The last lines of a file, or '' when it cannot be read. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function describeExecError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'command not found';
  const stderr = (error as { stderr?: Buffer | string }).stderr?.toString().trim();
  return stderr === undefined || stderr === '' ? error.message : stderr.split('\n').slice(-3).join(' ');
}
