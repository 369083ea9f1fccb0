/** Fresh AWS resources for a test (uniquely named), on the endpoint globalSetup provided. */

import { inject } from 'vitest';
import { type AwsBackend, createClients, openAwsBackend } from '../../lib/aws/backend.js';
import { deleteResources, provisionResources } from '../../lib/aws/provision.js';

/** Credentials for a local endpoint (it accepts any); real AWS uses the ambient ones. */
export function localCredentials(): void {
  if (inject('awsEndpoint') !== '') {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  }
}

/** Create queues and a table named `spool-test-<random>`, and a backend on them. */
export async function freshAwsBackend(options: { now?: () => number; maxReceiveCount?: number } = {}) {
  localCredentials();
  const endpoint = inject('awsEndpoint');
  const region = inject('awsRegion');
  const config = { region, ...(endpoint === '' ? {} : { endpoint }) };
  const clients = createClients({ region, endpoint: endpoint === '' ? undefined : endpoint });
  const prefix = `spool-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const resources = await provisionResources(clients, {
    prefix,
    ...(options.maxReceiveCount === undefined ? {} : { maxReceiveCount: options.maxReceiveCount }),
    // A local endpoint takes any role; on real AWS set SPOOL_TEST_SCHEDULER_ROLE_ARN to a role
    // EventBridge Scheduler may assume that can send to spool-test-* queues.
    ...(schedulerRoleArn() === undefined ? {} : { scheduler: { roleArn: schedulerRoleArn() as string } }),
  });
  const backend: AwsBackend = openAwsBackend({
    ...config,
    ...resources,
    clients,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return {
    backend: {
      ...backend,
      close: async () => {
        await deleteResources(clients, resources);
        clients.sqs.destroy();
        clients.dynamodb.destroy();
        clients.scheduler.destroy();
      },
    } satisfies AwsBackend,
    resources,
    config,
  };
}

/** The role test schedules send as: any on a local endpoint; on real AWS, SPOOL_TEST_SCHEDULER_ROLE_ARN (else no scheduler). */
function schedulerRoleArn(): string | undefined {
  if (inject('awsEndpoint') !== '') return 'arn:aws:iam::000000000000:role/spool-test-scheduler';
  return process.env.SPOOL_TEST_SCHEDULER_ROLE_ARN || undefined;
}

/** The environment a process needs to open this backend with `openAwsBackend()`. */
export function awsEnv(fresh: Awaited<ReturnType<typeof freshAwsBackend>>): Record<string, string> {
  return {
    SPOOL_QUEUE_URL: fresh.resources.queueUrl,
    SPOOL_DLQ_URL: fresh.resources.deadLetterQueueUrl,
    SPOOL_TABLE: fresh.resources.tableName,
    ...(fresh.resources.scheduleGroup === undefined
      ? {}
      : {
          SPOOL_SCHEDULE_GROUP: fresh.resources.scheduleGroup,
          SPOOL_SCHEDULER_ROLE_ARN: fresh.resources.schedulerRoleArn ?? '',
        }),
    AWS_REGION: fresh.config.region,
    ...(fresh.config.endpoint === undefined ? {} : { AWS_ENDPOINT_URL: fresh.config.endpoint }),
  };
}
