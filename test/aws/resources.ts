/**
 * Fresh AWS resources for a test (uniquely named), on the endpoint globalSetup provided. They are
 * made by `provisionResources`, from the one layout (`lib/aws/layout.ts`) the CDK construct uses.
 */

import {
  type AwsBackend,
  backendConfig,
  backendEnvironment,
  createClients,
  deleteResources,
  openAwsBackend,
  provisionResources,
} from 'spool-tasks/aws';
import { uniquePrefix } from 'spool-tasks/testing/local-aws';
import { inject } from 'vitest';

/** Credentials for a local endpoint (it accepts any); real AWS uses the ambient ones. */
export function localCredentials(): void {
  if (inject('awsEndpoint') !== '') {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  }
}

/** A unique resource-name prefix for one test: `<base>-<time>-<random>`. */
export const testPrefix = uniquePrefix;

/** Create queues and a table named `spool-test-<random>`, and a backend on them. */
export async function freshAwsBackend(options: { now?: () => number; maxReceiveCount?: number } = {}) {
  localCredentials();
  const endpoint = inject('awsEndpoint');
  const region = inject('awsRegion');
  const config = { region, endpoint: endpoint === '' ? undefined : endpoint };
  const clients = createClients(config);
  const roleArn = schedulerRoleArn();
  const resources = await provisionResources(clients, {
    prefix: testPrefix(),
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
    // A local endpoint takes any role; on real AWS set SPOOL_TEST_SCHEDULER_ROLE_ARN to a role
    // EventBridge Scheduler may assume that can send to spool-test-* queues.
    ...(roleArn === undefined ? {} : { scheduler: { roleArn } }),
  });
  const backend: AwsBackend = openAwsBackend({
    ...backendConfig(resources, config),
    clients,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { backend: deletingOnClose(backend, clients, resources), resources, config };
}

/** The role test schedules send as: any on a local endpoint; on real AWS, SPOOL_TEST_SCHEDULER_ROLE_ARN (else no scheduler). */
export function schedulerRoleArn(): string | undefined {
  if (inject('awsEndpoint') !== '') return 'arn:aws:iam::000000000000:role/spool-test-scheduler';
  return process.env.SPOOL_TEST_SCHEDULER_ROLE_ARN || undefined;
}

/** The environment a process needs to open this backend with `openAwsBackend()`. */
export function awsEnv(fresh: Awaited<ReturnType<typeof freshAwsBackend>>): Record<string, string> {
  return backendEnvironment(fresh.resources, fresh.config);
}

/** `backend`, with a `close` that deletes the test's resources and destroys its clients. */
export function deletingOnClose(
  backend: AwsBackend,
  clients: ReturnType<typeof createClients>,
  resources: Awaited<ReturnType<typeof provisionResources>>,
): AwsBackend {
  return {
    ...backend,
    close: async () => {
      await deleteResources(clients, resources);
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      clients.scheduler.destroy();
      clients.s3?.destroy();
    },
  };
}
