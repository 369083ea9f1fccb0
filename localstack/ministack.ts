/**
 * ministack, the local AWS endpoint of the build machines: a LocalStack-compatible emulator from
 * PyPI that needs no Docker. Installed in a project-local virtualenv (`.venv/`), bound to
 * 127.0.0.1 only, with its extra listeners (IoT MQTT 8883, SFTP) off, and stopped by its pid.
 *
 * As a command:
 *   npx tsx localstack/ministack.ts start   # on 127.0.0.1:4566 (GATEWAY_PORT to change); pid in .spool/ministack.pid
 *   npx tsx localstack/ministack.ts stop
 *   npx tsx localstack/ministack.ts install # only create .venv with ministack
 * From code: `startMinistack({ port })` resolves `{ endpoint, stop }` (vitest's globalSetup uses it).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** The ministack release the project is tested with. */
export const MINISTACK_VERSION = '1.5.33';
const ROOT = resolve(import.meta.dirname, '..');
const VENV = join(ROOT, '.venv');
const BIN = join(VENV, process.platform === 'win32' ? 'Scripts' : 'bin');
const PID_FILE = join(ROOT, '.spool', 'ministack.pid');
/** The AWS services spool uses (ministack starts only these). */
const SERVICES = 'sqs,dynamodb,scheduler,lambda,s3,iam,sts,cloudformation,ssm,logs,events,apigateway,ecr,kms';

/** A running endpoint. */
export interface RunningEndpoint {
  readonly endpoint: string;
  readonly pid: number;
  /** Stop it (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Create `.venv` with ministack in it, unless it is there already. */
export function installMinistack(log: (line: string) => void = () => {}): void {
  if (existsSync(join(BIN, 'ministack')) && installedVersion() === MINISTACK_VERSION) return;
  const python = process.env.PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3');
  log(`installing ministack ${MINISTACK_VERSION} into ${VENV} (project-local virtualenv)`);
  try {
    if (!existsSync(BIN)) execFileSync(python, ['-m', 'venv', VENV], { stdio: 'inherit' });
    execFileSync(
      join(BIN, 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', `ministack==${MINISTACK_VERSION}`],
      {
        stdio: 'inherit',
      },
    );
  } catch (error) {
    throw new Error(
      `could not install ministack ${MINISTACK_VERSION} with ${python} -m venv + pip (${(error as Error).message}). ` +
        'Install Python 3.10+ with venv (Debian: apt-get install python3-venv), or point AWS_ENDPOINT_URL at a running LocalStack.',
    );
  }
}

function installedVersion(): string | undefined {
  try {
    return execFileSync(join(BIN, 'pip'), ['show', 'ministack'], { encoding: 'utf8' }).match(/^Version: (.+)$/m)?.[1];
  } catch {
    return undefined;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Start ministack on 127.0.0.1:`port` and wait until it answers. */
export async function startMinistack(options: { port?: number; logFile?: string } = {}): Promise<RunningEndpoint> {
  installMinistack((line) => process.stderr.write(`${line}\n`));
  const port = options.port ?? 4566;
  const endpoint = `http://127.0.0.1:${port}`;
  mkdirSync(join(ROOT, '.spool'), { recursive: true });
  const logFile = options.logFile ?? join(ROOT, '.spool', `ministack-${port}.log`);
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(join(BIN, 'ministack'), [], {
    env: {
      ...process.env,
      BIND_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      // What Lambda functions run by ministack get as AWS_ENDPOINT_URL (loopback, no DNS needed).
      AWS_ENDPOINT_URL: endpoint,
      MINISTACK_HOST: 'localhost.localstack.cloud',
      SERVICES,
      IOT_MTLS_ENABLED: '0',
      SFTP_ENABLED: '0',
      LOG_LEVEL: 'WARNING',
    },
    stdio: ['ignore', out, out],
    detached: process.platform !== 'win32',
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${join(BIN, 'ministack')}; see ${logFile}`);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 250))]);
    if (early !== 'waiting') {
      throw new Error(`ministack exited (code ${early}) before it was ready; its log: ${logFile}\n${tail(logFile)}`);
    }
    if (await isReady(endpoint)) break;
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`ministack did not answer on ${endpoint} within 60 s; its log: ${logFile}\n${tail(logFile)}`);
    }
  }
  child.unref();
  return { endpoint, pid, stop: () => stopPid(pid) };
}

async function isReady(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/_ministack/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Stop a process by pid: SIGTERM, then SIGKILL after 5 s. */
export async function stopPid(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
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
    process.stdout.write(
      `export AWS_ENDPOINT_URL=${running.endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n`,
    );
    return 0;
  }
  if (command === 'install') {
    installMinistack((line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`ministack ${MINISTACK_VERSION} installed in ${VENV}\n`);
    return 0;
  }
  if (command === 'stop') {
    if (!existsSync(PID_FILE)) {
      process.stdout.write('ministack is not running (no pid file)\n');
      return 0;
    }
    const pid = Number(readFileSync(PID_FILE, 'utf8'));
    await stopPid(pid);
    rmSync(PID_FILE, { force: true });
    process.stdout.write(`ministack (pid ${pid}) stopped\n`);
    return 0;
  }
  process.stderr.write('usage: tsx localstack/ministack.ts install|start|stop\n');
  return 2;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  cli(process.argv[2]).then((code) => {
    process.exitCode = code;
  });
}
