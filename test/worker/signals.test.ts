import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSpool, silentLogger, type TaskState } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'spool-signals-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Start the fixture on a fresh file; resolves once its handler has started, with the run's id. */
async function startWorker(name: string, signals: 'on' | 'off') {
  const path = join(dir, `${name}.db`);
  const script = join(import.meta.dirname, 'fixtures', 'signal-worker.ts');
  const child = spawn(process.execPath, ['--conditions=spool-source', '--import', 'tsx', script, path, signals], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let id: string | undefined;
  for await (const line of lines) {
    const match = /^started (\S+)$/.exec(line);
    if (match) {
      id = match[1];
      break;
    }
  }
  if (id === undefined) throw new Error(`the fixture ended before its handler started (exit ${await exited})`);
  return { child, exited, path, id };
}

async function stateOf(path: string, id: string): Promise<TaskState> {
  const spool = createSpool({ backend: openEmbeddedBackend({ path }), tasks: [], logger: silentLogger });
  try {
    return await spool.handle(id).status();
  } finally {
    await spool.close();
  }
}

describe.skipIf(process.platform === 'win32')('spool.worker() and stop signals', () => {
  it('GIVEN a run in flight WHEN the process gets SIGTERM THEN the worker drains it, and the process then ends by SIGTERM', async () => {
    const { child, exited, path, id } = await startWorker('drain', 'on');
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await stateOf(path, id)).toBe('succeeded');
  }, 60_000);

  it('GIVEN a worker draining after SIGINT WHEN a second SIGINT comes THEN the process ends at once, leaving the run to its lease', async () => {
    const { child, exited, path, id } = await startWorker('twice', 'on');
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGINT');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(await stateOf(path, id)).toBe('running');
  }, 60_000);

  it('GIVEN signals: false WHEN the process gets SIGTERM THEN spool does not intercept it', async () => {
    const { child, exited, path, id } = await startWorker('off', 'off');
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await stateOf(path, id)).toBe('running');
  }, 60_000);
});
