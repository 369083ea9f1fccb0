/**
 * vitest globalSetup: the local AWS endpoint for the AWS backend's tests.
 * - `AWS_ENDPOINT_URL` set: use that endpoint (a running LocalStack or ministack).
 * - `SPOOL_TEST_REAL_AWS=1`: use the real AWS account of the ambient credentials (creates and deletes
 *   uniquely named queues and tables; costs a few cents).
 * - otherwise: start ministack on a free loopback port, and stop it afterwards.
 */

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

export async function setup(project: TestProject): Promise<void> {
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
