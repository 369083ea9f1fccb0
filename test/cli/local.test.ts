/**
 * `spool local start|status|stop`, spawned as a user runs them, in a temporary project. The
 * virtualenv is the repository's `.venv` (`--venv`), which `.ci/run` and the tests' globalSetup
 * install, so nothing is downloaded here.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort, isAlive, stopPid } from '../../lib/local/process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'spool.mjs');
const VENV = join(ROOT, '.venv');

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spool(args: readonly string[], cwd: string): Promise<Outcome> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

describe('spool local', () => {
  const project = mkdtempSync(join(tmpdir(), 'spool-local-'));
  writeFileSync(join(project, 'package.json'), '{"name":"local-test"}\n');
  const pidFile = join(project, '.spool', 'ministack', 'ministack.pid.json');
  afterAll(async () => {
    // Stop what the test started, by its pid, if a step failed before `stop`.
    if (existsSync(pidFile)) await stopPid((JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number }).pid);
    rmSync(project, { recursive: true, force: true });
  });

  it('GIVEN a project WHEN start, start again, status, stop, status THEN it runs on loopback once, is found, and stops by its pid', async () => {
    const port = await freePort();
    // WHEN it is started
    const started = await spool(['local', 'start', '--port', String(port), '--venv', VENV], project);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toBe(
      `export AWS_ENDPOINT_URL=http://127.0.0.1:${port}\nexport AWS_REGION=us-east-1\n` +
        'export AWS_ACCESS_KEY_ID=test\nexport AWS_SECRET_ACCESS_KEY=test\n',
    );
    const state = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; port: number };
    expect(state.port).toBe(port);
    expect(isAlive(state.pid)).toBe(true);
    const health = await fetch(`http://127.0.0.1:${port}/_localstack/health`);
    expect(health.ok).toBe(true);

    // WHEN it is started again THEN the same server is reported
    const again = await spool(['local', 'start', '--venv', VENV, '--json'], project);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ pid: state.pid, port, started: false });

    // WHEN status is asked THEN it runs there
    const status = await spool(['local', 'status', '--json'], project);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: 'running',
      pid: state.pid,
      endpoint: `http://127.0.0.1:${port}`,
    });

    // WHEN another project asks for the same port THEN it is told the port is taken and what to do
    const other = mkdtempSync(join(tmpdir(), 'spool-local-other-'));
    try {
      const taken = await spool(['local', 'start', '--port', String(port), '--venv', VENV], other);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(taken.stderr).toContain(`--endpoint http://127.0.0.1:${port}`);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }

    // WHEN it is stopped THEN that pid is gone, and status says so (exit 1)
    const stopped = await spool(['local', 'stop'], project);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`stopped ministack on http://127.0.0.1:${port} (pid ${state.pid})`);
    expect(isAlive(state.pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    const after = await spool(['local', 'status'], project);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not running/);
    expect((await spool(['local', 'stop'], project)).stdout).toMatch(/nothing to stop/);
  }, 90_000);

  it('GIVEN a port something else listens on WHEN start --port THEN exit 2 names the port and the ways out', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const taken = await spool(['local', 'start', '--port', String(port), '--venv', VENV], project);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toMatch(
        new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use\\. Pass another port`),
      );
    } finally {
      server.close();
    }
  });

  it.skipIf(inject('awsEndpoint') === '')(
    'GIVEN a running endpoint WHEN start --endpoint THEN it is only checked and its environment printed',
    async () => {
      const endpoint = inject('awsEndpoint');
      const out = await spool(['local', 'start', '--endpoint', endpoint], project);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain(`export AWS_ENDPOINT_URL=${endpoint}\n`);
      expect(out.stderr).toMatch(/not started by spool/);
      expect(existsSync(pidFile)).toBe(false);
    },
  );

  it('GIVEN nothing at an endpoint WHEN start --endpoint or status --endpoint THEN they say it does not answer', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const start = await spool(['local', 'start', '--endpoint', nowhere], project);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain(`no AWS endpoint answers at ${nowhere}`);
    const status = await spool(['local', 'status', '--endpoint', nowhere], project);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('does not answer');
  });
});
