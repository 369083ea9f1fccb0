/**
 * `spool-tasks/testing/local-aws`: a user's globalSetup that provisions (and, without an
 * endpoint, starts) a local AWS, and an app that runs on what it provides.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSpool, defineTask, silentLogger } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { localAwsGlobalSetup, startLocalAws } from 'spool-tasks/testing/local-aws';
import { describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { isAlive } from '../../lib/local/process.js';

const VENV = resolve(import.meta.dirname, '../../.venv');
const double = defineTask({
  name: 'double',
  schema: z.object({ n: z.number() }),
  handler: async ({ n }) => n * 2,
});

describe('localAwsGlobalSetup', () => {
  // Against the real AWS (SPOOL_TEST_REAL_AWS=1) there is no local endpoint: reported as skipped.
  it.skipIf(inject('awsEndpoint') === '')(
    'GIVEN the test endpoint WHEN used as globalSetup THEN the environment is set and provided, an app runs on it, and teardown deletes and restores',
    async () => {
      const endpoint = inject('awsEndpoint');
      const provided = new Map<string, unknown>();
      const before = process.env.SPOOL_QUEUE_URL;

      // WHEN the globalSetup runs
      const teardown = await localAwsGlobalSetup({ endpoint, prefix: 'spool-la' })({
        provide: (key, value) => provided.set(key, value),
      });
      try {
        // THEN openAwsBackend() finds everything in process.env, and the same is provided
        expect(process.env.SPOOL_QUEUE_URL).toMatch(/\/spool-la-[a-z0-9]+-[a-z0-9]+\.fifo$/);
        expect(provided.get('spoolAws')).toMatchObject({
          SPOOL_TABLE: process.env.SPOOL_TABLE,
          AWS_ENDPOINT_URL: endpoint,
        });
        const spool = createSpool({ backend: openAwsBackend(), tasks: [double], logger: silentLogger });
        const worker = spool.worker({ waitTimeSeconds: 1 });
        await worker.start();
        const run = await spool.enqueue(double, { n: 21 });
        await expect(run.result({ timeoutMs: 20_000 })).resolves.toBe(42);
        await worker.stop();
        await spool.close();
      } finally {
        await teardown();
      }
      // THEN the environment is as it was
      expect(process.env.SPOOL_QUEUE_URL).toBe(before);
    },
  );
});

describe('startLocalAws without an endpoint', () => {
  it('GIVEN no AWS_ENDPOINT_URL WHEN started THEN it starts ministack on loopback, provisions on it, and stop() stops that pid', async () => {
    const project = mkdtempSync(join(tmpdir(), 'spool-la-'));
    writeFileSync(join(project, 'package.json'), '{"name":"la"}\n');
    const saved = process.env.AWS_ENDPOINT_URL;
    delete process.env.AWS_ENDPOINT_URL;
    try {
      const aws = await startLocalAws({ root: project, venv: VENV, log: () => {} });
      const pid = aws.started?.pid ?? 0;
      try {
        expect(aws.started).toBeDefined();
        expect(aws.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(aws.env.SPOOL_TABLE).toBe(`${aws.prefix}-tasks`);
        expect(process.env.AWS_ENDPOINT_URL).toBe(aws.endpoint);
        const backend = openAwsBackend(aws.backendOptions);
        await expect(backend.store.get('nothing-here')).resolves.toBeUndefined();
        backend.close();
      } finally {
        // WHEN stopped THEN that pid is gone and the environment restored (also when a step failed)
        await aws.stop();
      }
      expect(isAlive(pid)).toBe(false);
      expect(process.env.AWS_ENDPOINT_URL).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.AWS_ENDPOINT_URL = saved;
      rmSync(project, { recursive: true, force: true });
    }
  }, 90_000);
});
