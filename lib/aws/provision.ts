/**
 * Create and delete one app's resources through the AWS API, on any endpoint (AWS, LocalStack,
 * ministack) — for `spool provision`, tests, the cost benchmark and local endpoints. Production
 * usually deploys them with the CDK construct (`infra/`). Both build from one layout
 * (`lib/aws/layout.ts`): names `<prefix>.fifo`, `<prefix>-dlq.fifo`, `<prefix>-tasks`, the
 * schedule group `<prefix>` and the blob bucket `<prefix>-blobs` (with an S3 client), and every
 * setting of each.
 *
 * Idempotent: creating what exists with the same settings changes nothing (SQS `CreateQueue`
 * returns the queue; an existing table or schedule group is taken as it is). A queue that exists
 * with other settings is refused by SQS, and the error says how to resolve it.
 *
 * @module
 */

import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateScheduleGroupCommand,
  DeleteScheduleGroupCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigurationError } from '../task/errors.js';
import type { AwsBackendConfig } from './config.js';
import {
  blobLifecycleRules,
  deadLetterQueueAttributes,
  keyAttributes,
  layoutNames,
  prefixProblems,
  SPOOL_LAYOUT,
  taskQueueAttributes,
} from './layout.js';

/** Which app's resources, and the settings that may differ from the layout's. */
export interface ResourceNames {
  /** Prefix of every name: `<prefix>.fifo`, `<prefix>-dlq.fifo`, `<prefix>-tasks`, group `<prefix>`. */
  readonly prefix: string;
  /** @default SPOOL_LAYOUT.queue.maxReceiveCount (100) */
  readonly maxReceiveCount?: number;
  /** @default SPOOL_LAYOUT.queue.visibilityTimeoutSeconds (30) */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Also create the schedule group `<prefix>`. `roleArn` is the role EventBridge Scheduler assumes
   * to send to the task queue; without one the group is made but the backend cannot use it (its
   * configuration needs both).
   * @default no schedule group
   */
  readonly scheduler?: { readonly roleArn: string | undefined };
}

/** What {@link provisionResources} created (or found). */
export interface ProvisionedResources {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  readonly tableName: string;
  readonly scheduleGroup?: string;
  readonly schedulerRoleArn?: string;
  /** The blob bucket, when an S3 client was given. */
  readonly bucketName?: string;
}

/** The clients provisioning uses (`scheduler` only with `names.scheduler`; `s3` for the blob bucket). */
export interface ProvisionClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly scheduler?: SchedulerClient;
  /** With it, the blob bucket `<prefix>-blobs` is made (and deleted) too. */
  readonly s3?: S3Client;
}

/** Create the queues, the table (with its index and TTL), the blob bucket (with `clients.s3`) and, if asked, the schedule group. */
export async function provisionResources(
  clients: ProvisionClients,
  names: ResourceNames,
): Promise<ProvisionedResources> {
  const problems = prefixProblems(names.prefix);
  if (problems.length > 0) throw new ConfigurationError(problems.join(' '));
  const n = layoutNames(names.prefix);
  const dlq = await createQueue(clients.sqs, n.deadLetterQueueName, deadLetterQueueAttributes());
  const queue = await createQueue(
    clients.sqs,
    n.queueName,
    taskQueueAttributes({
      deadLetterQueueArn: dlq.arn,
      ...(names.maxReceiveCount === undefined ? {} : { maxReceiveCount: names.maxReceiveCount }),
      ...(names.visibilityTimeoutSeconds === undefined
        ? {}
        : { visibilityTimeoutSeconds: names.visibilityTimeoutSeconds }),
    }),
  );
  await createTable(clients.dynamodb, n.tableName);
  if (clients.s3 !== undefined) await createBucket(clients.s3, n.bucketName);
  const made: ProvisionedResources = {
    queueUrl: queue.url,
    queueArn: queue.arn,
    deadLetterQueueUrl: dlq.url,
    deadLetterQueueArn: dlq.arn,
    tableName: n.tableName,
    ...(clients.s3 === undefined ? {} : { bucketName: n.bucketName }),
  };
  if (names.scheduler === undefined) return made;
  if (clients.scheduler === undefined) {
    throw new ConfigurationError(
      'provisionResources: names.scheduler asks for a schedule group, but clients.scheduler is missing. Pass a SchedulerClient as clients.scheduler, or leave names.scheduler out.',
    );
  }
  await clients.scheduler
    .send(new CreateScheduleGroupCommand({ Name: n.scheduleGroupName }))
    .catch((error: unknown) => {
      if (!(error instanceof Error && error.name === 'ConflictException')) throw error;
    });
  const roleArn = names.scheduler.roleArn;
  return {
    ...made,
    scheduleGroup: n.scheduleGroupName,
    ...(roleArn === undefined ? {} : { schedulerRoleArn: roleArn }),
  };
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
  } catch (error) {
    if (error instanceof Error && /QueueAlreadyExists|QueueNameExists/.test(error.name)) {
      throw new ConfigurationError(
        `the SQS queue ${name} exists with other settings than spool's layout (${error.message}). ` +
          'Provision with the settings it was made with (e.g. the same --max-receive-count), or delete it first ' +
          '(spool provision --delete with the same --prefix; SQS then needs 60 s before the name can be reused).',
        { cause: error },
      );
    }
    throw error;
  }
  if (url === undefined) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = attrs.Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`GetQueueAttributes of ${url} returned no QueueArn`);
  return { url, arn };
}

async function createTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const t = SPOOL_LAYOUT.table;
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: t.billingMode,
        AttributeDefinitions: keyAttributes().map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
        KeySchema: [{ AttributeName: t.partitionKey.name, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: t.stateIndex.name,
            KeySchema: [
              { AttributeName: t.stateIndex.partitionKey.name, KeyType: 'HASH' },
              { AttributeName: t.stateIndex.sortKey.name, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: t.stateIndex.projection },
          },
        ],
        // Enabled without a key: the AWS managed key aws/dynamodb, as the construct's AWS_MANAGED.
        SSESpecification: { Enabled: t.encryption === 'aws-managed' },
      }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 120 }, { TableName: tableName });
  const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  await dynamodb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true },
      }),
    )
    .catch((error: unknown) => {
      // Enabling TTL twice is refused; that is fine.
      if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
    });
}

/**
 * Create the blob bucket as the construct does (`SPOOL_LAYOUT.bucket`): public access blocked,
 * SSE-S3 encryption, TLS only, and one lifecycle rule per retention class. An existing bucket of
 * ours is taken as it is (its settings are written again); one another account owns is refused.
 */
async function createBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (error instanceof Error && error.name === 'BucketAlreadyExists') {
      throw new ConfigurationError(
        `the S3 bucket ${bucket} exists in another AWS account (bucket names are global). Provision with another --prefix.`,
        { cause: error },
      );
    }
    if (!(error instanceof Error && error.name === 'BucketAlreadyOwnedByYou')) throw error;
  }
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket: bucket,
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    }),
  );
  await s3.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    }),
  );
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: blobLifecycleRules().map((rule) => ({
          ID: rule.id,
          Status: 'Enabled',
          Filter: { Prefix: rule.prefix },
          Expiration: { Days: rule.expirationDays },
        })),
      },
    }),
  );
}

/** Empty the bucket (every object, a page at a time) and delete it; `absent` when there is none. */
async function deleteBucket(s3: S3Client, bucket: string): Promise<DeprovisionOutcome> {
  try {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    return 'deleted';
  } catch (error) {
    if (isAbsent(error) || (error instanceof Error && error.name === 'NoSuchBucket')) return 'absent';
    throw error;
  }
}

/** Delete what {@link provisionResources} created (errors ignored: for test teardown). */
export async function deleteResources(clients: ProvisionClients, resources: ProvisionedResources): Promise<void> {
  await Promise.allSettled([
    ...(resources.bucketName === undefined || clients.s3 === undefined
      ? []
      : [deleteBucket(clients.s3, resources.bucketName)]),
    ...(resources.scheduleGroup === undefined || clients.scheduler === undefined
      ? []
      : [clients.scheduler.send(new DeleteScheduleGroupCommand({ Name: resources.scheduleGroup }))]),
    clients.sqs.send(new DeleteQueueCommand({ QueueUrl: resources.queueUrl })),
    clients.sqs.send(new DeleteQueueCommand({ QueueUrl: resources.deadLetterQueueUrl })),
    clients.dynamodb.send(new DeleteTableCommand({ TableName: resources.tableName })),
  ]);
}

/** What {@link deprovisionResources} did to one resource. */
export type DeprovisionOutcome = 'deleted' | 'absent';

/** What {@link deprovisionResources} did, by resource name. */
export interface DeprovisionReport {
  readonly queue: { readonly name: string; readonly outcome: DeprovisionOutcome };
  readonly deadLetterQueue: { readonly name: string; readonly outcome: DeprovisionOutcome };
  readonly table: { readonly name: string; readonly outcome: DeprovisionOutcome };
  readonly scheduleGroup?: { readonly name: string; readonly outcome: DeprovisionOutcome };
  readonly bucket?: { readonly name: string; readonly outcome: DeprovisionOutcome };
}

/**
 * Delete the resources of the app with `prefix`, found by their names; what is not there is
 * reported `absent` (so deleting twice is fine). The schedule group (with its schedules) only when
 * `clients.scheduler` is given, the blob bucket (emptied first) only when `clients.s3` is. Waits until
 * the table is gone.
 */
export async function deprovisionResources(clients: ProvisionClients, prefix: string): Promise<DeprovisionReport> {
  const problems = prefixProblems(prefix);
  if (problems.length > 0) throw new ConfigurationError(problems.join(' '));
  const n = layoutNames(prefix);
  const deleteQueue = async (name: string): Promise<DeprovisionOutcome> => {
    let url: string | undefined;
    try {
      url = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (error) {
      if (isAbsent(error)) return 'absent';
      throw error;
    }
    if (url === undefined) return 'absent';
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    return 'deleted';
  };
  const deleteTable = async (): Promise<DeprovisionOutcome> => {
    try {
      await clients.dynamodb.send(new DeleteTableCommand({ TableName: n.tableName }));
    } catch (error) {
      if (isAbsent(error)) return 'absent';
      throw error;
    }
    await waitUntilTableNotExists({ client: clients.dynamodb, maxWaitTime: 120 }, { TableName: n.tableName });
    return 'deleted';
  };
  const scheduler = clients.scheduler;
  const deleteGroup = async (s: SchedulerClient): Promise<DeprovisionOutcome> => {
    try {
      await s.send(new DeleteScheduleGroupCommand({ Name: n.scheduleGroupName }));
      return 'deleted';
    } catch (error) {
      if (isAbsent(error)) return 'absent';
      throw error;
    }
  };
  const [bucket, group, queue, deadLetterQueue, table] = await Promise.all([
    clients.s3 === undefined ? undefined : deleteBucket(clients.s3, n.bucketName),
    scheduler === undefined ? undefined : deleteGroup(scheduler),
    deleteQueue(n.queueName),
    deleteQueue(n.deadLetterQueueName),
    deleteTable(),
  ]);
  return {
    queue: { name: n.queueName, outcome: queue },
    deadLetterQueue: { name: n.deadLetterQueueName, outcome: deadLetterQueue },
    table: { name: n.tableName, outcome: table },
    ...(group === undefined ? {} : { scheduleGroup: { name: n.scheduleGroupName, outcome: group } }),
    ...(bucket === undefined ? {} : { bucket: { name: n.bucketName, outcome: bucket } }),
  };
}

/** Whether an SDK error says the resource does not exist. */
function isAbsent(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /ResourceNotFound|NonExistentQueue|QueueDoesNotExist|NotFound/.test(
    `${error.name} ${(error as { Code?: string }).Code ?? ''}`,
  );
}

/** Where the backend's clients connect. */
export interface BackendLocation {
  readonly region: string;
  /** A local endpoint such as `http://127.0.0.1:4566`; undefined: AWS's own. */
  readonly endpoint: string | undefined;
}

/**
 * The configuration of a backend on these resources, as `openAwsBackend()` takes it: the queues,
 * the table, the region, the endpoint (with one), and the schedule group with the Scheduler role
 * when both are known (the configuration takes both or neither).
 */
export function backendConfig(resources: ProvisionedResources, where: BackendLocation): AwsBackendConfig {
  return {
    queueUrl: resources.queueUrl,
    deadLetterQueueUrl: resources.deadLetterQueueUrl,
    tableName: resources.tableName,
    ...(resources.bucketName === undefined ? {} : { bucketName: resources.bucketName }),
    ...(resources.scheduleGroup === undefined || resources.schedulerRoleArn === undefined
      ? {}
      : { scheduleGroup: resources.scheduleGroup, schedulerRoleArn: resources.schedulerRoleArn }),
    region: where.region,
    ...(where.endpoint === undefined ? {} : { endpoint: where.endpoint }),
  };
}

/** The variable `openAwsBackend()` reads for each setting of {@link backendConfig} (`lib/aws/config.ts`). */
const ENVIRONMENT_NAMES = {
  queueUrl: 'SPOOL_QUEUE_URL',
  deadLetterQueueUrl: 'SPOOL_DLQ_URL',
  tableName: 'SPOOL_TABLE',
  scheduleGroup: 'SPOOL_SCHEDULE_GROUP',
  schedulerRoleArn: 'SPOOL_SCHEDULER_ROLE_ARN',
  bucketName: 'SPOOL_BUCKET',
  region: 'AWS_REGION',
  endpoint: 'AWS_ENDPOINT_URL',
} as const satisfies Record<keyof AwsBackendConfig, string>;

/** {@link backendConfig} as the environment `openAwsBackend()` reads. */
export function backendEnvironment(resources: ProvisionedResources, where: BackendLocation): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(backendConfig(resources, where))) {
    if (value !== undefined) env[ENVIRONMENT_NAMES[key as keyof AwsBackendConfig]] = value;
  }
  return env;
}
