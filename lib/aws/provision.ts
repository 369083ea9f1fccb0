/**
 * Create and delete the backend's resources through the API — for tests, the cost benchmark and
 * local endpoints. Production deploys them with the CDK construct (`infra/`).
 *
 * Queues: FIFO, high-throughput mode (`DeduplicationScope=messageGroup`,
 * `FifoThroughputLimit=perMessageGroupId`), SSE with SQS-managed keys, the task queue redriving to
 * the dead-letter queue after `maxReceiveCount` receives. Table: on-demand, `pk` string key, TTL on
 * `ttl`, sparse index `byState` (`gsiState`, `updatedAt`). The task queue has content-based
 * deduplication (EventBridge Scheduler's FIFO targets need it; spool's own sends carry explicit
 * ids). With `scheduler`, also an EventBridge Scheduler schedule group named `<prefix>`.
 *
 * @module
 */

import {
  CreateTableCommand,
  DeleteTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleGroupCommand,
  DeleteScheduleGroupCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { STATE_INDEX } from './dynamo-item.js';

/** Names of the resources of one spool app. */
export interface ResourceNames {
  /** Prefix of every name: `<prefix>.fifo`, `<prefix>-dlq.fifo`, `<prefix>-tasks`. */
  readonly prefix: string;
  /** @default 100 */
  readonly maxReceiveCount?: number;
  /** Also create the schedule group `<prefix>`; `roleArn` is the role Scheduler will assume. */
  readonly scheduler?: { readonly roleArn: string };
}

/** What {@link provisionResources} created. */
export interface ProvisionedResources {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly tableName: string;
  readonly scheduleGroup?: string;
  readonly schedulerRoleArn?: string;
}

/** The clients provisioning uses (`scheduler` only with `names.scheduler`). */
export interface ProvisionClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly scheduler?: SchedulerClient;
}

/** Create the queues and the table (idempotent for queues with the same attributes). */
export async function provisionResources(
  clients: ProvisionClients,
  names: ResourceNames,
): Promise<ProvisionedResources> {
  const fifo = {
    FifoQueue: 'true',
    DeduplicationScope: 'messageGroup',
    FifoThroughputLimit: 'perMessageGroupId',
    SqsManagedSseEnabled: 'true',
  };
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${names.prefix}-dlq.fifo`,
      Attributes: { ...fifo, MessageRetentionPeriod: '1209600' },
    }),
  );
  const dlqArn = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${names.prefix}.fifo`,
      Attributes: {
        ...fifo,
        ContentBasedDeduplication: 'true',
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn.Attributes?.QueueArn,
          maxReceiveCount: names.maxReceiveCount ?? 100,
        }),
      },
    }),
  );
  const tableName = `${names.prefix}-tasks`;
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'gsiState', AttributeType: 'S' },
          { AttributeName: 'updatedAt', AttributeType: 'N' },
        ],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: STATE_INDEX,
            KeySchema: [
              { AttributeName: 'gsiState', KeyType: 'HASH' },
              { AttributeName: 'updatedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        SSESpecification: { Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  await waitUntilTableExists({ client: clients.dynamodb, maxWaitTime: 60 }, { TableName: tableName });
  await clients.dynamodb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      }),
    )
    .catch((error: unknown) => {
      // Enabling TTL twice is refused; that is fine.
      if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
    });
  const made = { queueUrl: queue.QueueUrl ?? '', deadLetterQueueUrl: dlq.QueueUrl ?? '', tableName };
  if (names.scheduler === undefined || clients.scheduler === undefined) return made;
  await clients.scheduler.send(new CreateScheduleGroupCommand({ Name: names.prefix })).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'ConflictException')) throw error;
  });
  return { ...made, scheduleGroup: names.prefix, schedulerRoleArn: names.scheduler.roleArn };
}

/** Delete what {@link provisionResources} created. */
export async function deleteResources(clients: ProvisionClients, resources: ProvisionedResources): Promise<void> {
  await Promise.allSettled([
    ...(resources.scheduleGroup === undefined || clients.scheduler === undefined
      ? []
      : [clients.scheduler.send(new DeleteScheduleGroupCommand({ Name: resources.scheduleGroup }))]),
    clients.sqs.send(new DeleteQueueCommand({ QueueUrl: resources.queueUrl })),
    clients.sqs.send(new DeleteQueueCommand({ QueueUrl: resources.deadLetterQueueUrl })),
    clients.dynamodb.send(new DeleteTableCommand({ TableName: resources.tableName })),
  ]);
}
