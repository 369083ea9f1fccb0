/**
 * vitest globalSetup: the local AWS endpoint for the AWS backend's tests.
 * - `AWS_ENDPOINT_URL` set: use that endpoint (a running LocalStack or ministack).
 * - `SPOOL_TEST_REAL_AWS=1`: use the real AWS account of the ambient credentials (creates and deletes
 *   uniquely named queues and tables; costs a few cents).
 * - otherwise: start ministack on a free loopback port, and stop it afterwards.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, type RunningEndpoint, startMinistack } from '../localstack/ministack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The endpoint for AWS clients; '' for the real AWS. */
    awsEndpoint: string;
    awsRegion: string;
  }
}

let started: RunningEndpoint | undefined;

const ROOT = resolve(import.meta.dirname, '..');

/** The newest modification time of the files under `dir`, ms. */
function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((latest, entry) => Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs), 0);
}

/**
 * Tests that spawn `bin/spool.mjs` run the built CLI, and the apps it loads import `spool-tasks`
 * from dist/: build it when it is missing or older than the sources (`npm test` builds first).
 */
function ensureBuilt(): void {
  const marker = join(ROOT, 'dist', 'esm', 'lib', 'index.js');
  if (
    existsSync(marker) &&
    statSync(marker).mtimeMs >= Math.max(newest(join(ROOT, 'lib')), newest(join(ROOT, 'infra')))
  ) {
    return;
  }
  execFileSync(process.execPath, [join(ROOT, 'pack', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

export async function setup(project: TestProject): Promise<void> {
  ensureBuilt();
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let endpoint = process.env.AWS_ENDPOINT_URL ?? '';
  if (endpoint === '' && process.env.SPOOL_TEST_REAL_AWS !== '1') {
    started = await startMinistack({ port: await freePort() });
    endpoint = started.endpoint;
  }
  project.provide('awsEndpoint', endpoint);
  project.provide('awsRegion', region);
}

export async function teardown(): Promise<void> {
  await started?.stop();
}
