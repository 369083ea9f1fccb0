import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createSpool, silentLogger } from 'spool-tasks';
import { afterEach, describe, expect, it } from 'vitest';
import { defineOrderTasks } from '../../examples/orders/app.js';
import { FakePayments, FlakyMail } from '../../examples/orders/providers.js';
import { awsEnv, freshAwsBackend } from './resources.js';

const ROOT = join(import.meta.dirname, '..', '..');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('spool worker --backend aws', () => {
  it('GIVEN the example app WHEN `spool worker --backend aws` runs THEN it long-polls SQS, runs the task, and stops cleanly on SIGTERM', async () => {
    const fresh = await freshAwsBackend();
    const { chargeOrder } = defineOrderTasks({ payments: new FakePayments(), mail: new FlakyMail() });
    const producer = createSpool({ backend: fresh.backend, tasks: [], logger: silentLogger });
    cleanups.push(() => producer.close());
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'spool.mjs'),
        'worker',
        '--app',
        'examples/orders/app.ts',
        '--backend',
        'aws',
        '--concurrency',
        '4',
      ],
      {
        cwd: ROOT,
        // At debug, the worker logs a line per attempt (at the default level, none on success).
        env: { ...process.env, ...awsEnv(fresh), SPOOL_LOG_LEVEL: 'debug' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(async () => void child.kill('SIGKILL'));
    let logs = '';
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));

    const handle = await producer.enqueue(chargeOrder, { orderId: 'o-42', amountCents: 1999 });
    await expect(handle.result({ timeoutMs: 30_000 })).resolves.toEqual({ chargeId: expect.stringMatching(/^ch_/) });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(logs).toMatch(/"message":"attempt succeeded".*"task":"orders.charge"/);
    expect(logs).toMatch(/AWS SQS spool-test-.*\.fifo \+ DynamoDB spool-test-.*-tasks/);
    expect(logs).toMatch(/worker stopped/);
  });
});
