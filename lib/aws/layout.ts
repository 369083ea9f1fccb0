/**
 * The layout of one spool app's AWS resources, written once: the SQS FIFO task queue, its
 * dead-letter queue, the DynamoDB table of task records (key, sparse index, TTL attribute, billing)
 * and the EventBridge Scheduler schedule group, with every setting each needs. Plain data: no AWS
 * SDK and no aws-cdk-lib, so the provisioning API calls (`lib/aws/provision.ts`), the CDK construct
 * (`infra/task-queue.ts`) and the tests all read it, and a test checks that they agree.
 *
 * Names, for an app with prefix `<prefix>`:
 *
 * | resource | name |
 * | --- | --- |
 * | task queue | `<prefix>.fifo` |
 * | dead-letter queue | `<prefix>-dlq.fifo` |
 * | table | `<prefix>-tasks` |
 * | schedule group | `<prefix>` |
 * | blob bucket (the claim-check) | `<prefix>-blobs`, lowercased, `_` as `-`, at most 63 characters |
 *
 * (The construct lets CloudFormation name its resources; the settings are the same.)
 *
 * @module
 */

import { DEDUPLICATION_SCOPE } from '../backend/transport.js';
import { BLOB_KEY_PREFIX, BLOB_RETENTION_CLASSES_DAYS } from '../protocol/blob-ref.js';
import {
  DEFAULT_MAX_RECEIVE_COUNT,
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_NAME_LENGTH,
  MAX_RETENTION_SECONDS,
} from '../protocol/limits.js';

/** A DynamoDB scalar attribute type, as the DynamoDB API spells it (`S` string, `N` number). */
export type AttributeType = 'S' | 'N';

/** A key attribute: its name and type. */
export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

/**
 * spool's resource layout. Every value here is the one setting of its kind: change it here and
 * provisioning, the construct and the tests follow.
 */
export const SPOOL_LAYOUT = {
  /** The SQS FIFO task queue. */
  queue: {
    /** The queue name is `<prefix>` + this. */
    nameSuffix: '.fifo',
    fifo: true,
    /**
     * On: EventBridge Scheduler's FIFO targets carry no deduplication id; spool's own sends carry
     * explicit ids (the task id), which win over the content hash.
     */
    contentBasedDeduplication: true,
    /** High-throughput FIFO: deduplication per message group (the port's `DEDUPLICATION_SCOPE`) … */
    deduplicationScope: DEDUPLICATION_SCOPE,
    /** … and throughput per message group. */
    fifoThroughputLimit: 'perMessageGroupId',
    /**
     * How long a received message stays hidden, seconds, for a queue made by provisioning (the
     * long-running worker asks for its own on each receive). The construct derives its own from
     * the worker Lambda's timeout (`TaskQueueProps.visibilityTimeout`). The default lease,
     * `DEFAULT_VISIBILITY_TIMEOUT_SECONDS` (30).
     */
    visibilityTimeoutSeconds: DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    /**
     * Receives after which SQS moves a message to the dead-letter queue: a safety net for messages
     * that keep crashing the worker (spool dead-letters exhausted runs itself, so keep it high).
     * `DEFAULT_MAX_RECEIVE_COUNT` (100), as the embedded backend's.
     */
    maxReceiveCount: DEFAULT_MAX_RECEIVE_COUNT,
    /** The largest message, bytes (SQS's limit, 1 MiB). */
    maximumMessageSizeBytes: MAX_MESSAGE_BYTES,
    /** Server-side encryption with SQS-managed keys, unless a customer managed key is given. */
    encryption: 'sqs-managed',
  },
  /** The SQS FIFO dead-letter queue. */
  deadLetterQueue: {
    /** The queue name is `<prefix>` + this. */
    nameSuffix: '-dlq.fifo',
    fifo: true,
    deduplicationScope: DEDUPLICATION_SCOPE,
    fifoThroughputLimit: 'perMessageGroupId',
    /** How long a dead letter is kept, seconds: 14 days, the SQS maximum (`MAX_RETENTION_SECONDS`). */
    retentionSeconds: MAX_RETENTION_SECONDS,
    maximumMessageSizeBytes: MAX_MESSAGE_BYTES,
    encryption: 'sqs-managed',
  },
  /** The DynamoDB table of task records and locks (see `lib/aws/dynamo-item.ts`). */
  table: {
    /** The table name is `<prefix>` + this. */
    nameSuffix: '-tasks',
    /** `task#<id>` and `lock#<kind>#<key>`. No sort key. */
    partitionKey: { name: 'pk', type: 'S' } satisfies KeyAttribute,
    /** On-demand capacity. */
    billingMode: 'PAY_PER_REQUEST',
    /** DynamoDB's TTL attribute (epoch seconds). */
    ttlAttribute: 'ttl',
    /** Encrypted with the AWS managed key `aws/dynamodb`, unless a customer managed key is given. */
    encryption: 'aws-managed',
    /** Point-in-time recovery, in deployments (the construct); provisioning leaves it off. */
    pointInTimeRecovery: true,
    /** The sparse index of records by state (only retrying, failed, dead and cancelled records carry its key). */
    stateIndex: {
      name: 'byState',
      partitionKey: { name: 'gsiState', type: 'S' } satisfies KeyAttribute,
      sortKey: { name: 'updatedAt', type: 'N' } satisfies KeyAttribute,
      projection: 'ALL',
    },
  },
  /**
   * The S3 bucket of the claim-check's blobs (`lib/backend/blobs.ts`): arguments, results and error
   * messages too large for a message or a record. Private, encrypted, TLS only; its lifecycle rules
   * ({@link blobLifecycleRules}) delete each blob after its retention class.
   */
  bucket: {
    /** The bucket name is `<prefix>` (lowercased, `_` as `-`) + this. */
    nameSuffix: '-blobs',
    /** Server-side encryption with S3-managed keys (SSE-S3), unless a customer managed key is given. */
    encryption: 's3-managed',
    /** Every key the blobs are under, and what the lifecycle rules filter on (`BLOB_KEY_PREFIX`). */
    keyPrefix: BLOB_KEY_PREFIX,
    /** The retention classes, days: one lifecycle rule each, for keys under `blobs/<days>d/`. */
    retentionClassesDays: BLOB_RETENTION_CLASSES_DAYS,
  },
  /** The EventBridge Scheduler schedule group: recurring schedules by name, one-time ones as `delay.<id>`. */
  scheduleGroup: {
    /** The group name is `<prefix>` + this. */
    nameSuffix: '',
  },
} as const;

/** The layout's type. */
export type SpoolLayout = typeof SPOOL_LAYOUT;

/** The names of one app's resources. */
export interface LayoutNames {
  readonly prefix: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly tableName: string;
  readonly scheduleGroupName: string;
  /** The S3 bucket of blobs (`<prefix>-blobs`, as S3 allows: see {@link bucketNameOf}). */
  readonly bucketName: string;
}

/** Longest S3 bucket name, in characters (S3's limit). */
const MAX_BUCKET_NAME_LENGTH = 63;

/**
 * The bucket name of the app with `prefix`: `<prefix>-blobs`, lowercased with `_` as `-` (S3 allows
 * lowercase letters, digits, `-` and `.`), starting with a letter or digit, cut to 63 characters.
 * S3 bucket names are global: on AWS, a prefix someone else's bucket took is refused by provisioning.
 */
export function bucketNameOf(prefix: string): string {
  const suffix = SPOOL_LAYOUT.bucket.nameSuffix;
  const base = prefix
    .toLowerCase()
    .replace(/_/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return `${(base === '' ? 'spool' : base).slice(0, MAX_BUCKET_NAME_LENGTH - suffix.length)}${suffix}`;
}

/** One lifecycle rule of the blob bucket: expire what is under `prefix` this many days after it was written. */
export interface BlobLifecycleRule {
  readonly id: string;
  readonly prefix: string;
  readonly expirationDays: number;
}

/**
 * The lifecycle rules of the blob bucket, one per retention class: keys under `blobs/<days>d/`
 * expire `<days>` days after they were written (S3 counts from the next midnight UTC, so never
 * earlier). A blob's class is at least its expiry (`lib/backend/blobs.ts`), so the rule never
 * deletes a blob a message or a record still points to.
 */
export function blobLifecycleRules(): readonly BlobLifecycleRule[] {
  const b = SPOOL_LAYOUT.bucket;
  return b.retentionClassesDays.map((days) => ({
    id: `spool-blobs-${days}d`,
    prefix: `${b.keyPrefix}${days}d/`,
    expirationDays: days,
  }));
}

/**
 * The longest prefix (71): SQS queue names are at most 80 characters, and the dead-letter queue
 * adds `-dlq.fifo` (9).
 */
export const MAX_PREFIX_LENGTH = MAX_QUEUE_NAME_LENGTH - SPOOL_LAYOUT.deadLetterQueue.nameSuffix.length;

/** What a prefix may contain: the characters every one of the four names allows. */
const PREFIX_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * What is wrong with `prefix` as a resource-name prefix (empty when nothing is): it must be 1–71
 * of `[A-Za-z0-9_-]`, the characters SQS queue, DynamoDB table and schedule group names all allow.
 */
export function prefixProblems(prefix: string): string[] {
  const problems: string[] = [];
  if (prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH) {
    problems.push(
      `prefix ${JSON.stringify(prefix)} is ${prefix.length} characters: allowed are 1 to ${MAX_PREFIX_LENGTH} ` +
        `(SQS queue names are at most ${MAX_QUEUE_NAME_LENGTH}, and the dead-letter queue adds '${SPOOL_LAYOUT.deadLetterQueue.nameSuffix}'). Pass a shorter name such as 'myapp-dev'.`,
    );
  }
  if (prefix.length > 0 && !PREFIX_PATTERN.test(prefix)) {
    problems.push(
      `prefix ${JSON.stringify(prefix)} has characters other than letters, digits, '-' and '_' ` +
        '(the characters SQS queue, DynamoDB table and schedule group names all allow). Pass a name such as "myapp-dev".',
    );
  }
  return problems;
}

/** The resource names of the app with `prefix` (not checked: see {@link prefixProblems}). */
export function layoutNames(prefix: string): LayoutNames {
  return {
    prefix,
    queueName: `${prefix}${SPOOL_LAYOUT.queue.nameSuffix}`,
    deadLetterQueueName: `${prefix}${SPOOL_LAYOUT.deadLetterQueue.nameSuffix}`,
    tableName: `${prefix}${SPOOL_LAYOUT.table.nameSuffix}`,
    scheduleGroupName: `${prefix}${SPOOL_LAYOUT.scheduleGroup.nameSuffix}`,
    bucketName: bucketNameOf(prefix),
  };
}

/** The key attributes of the table and its index, each once: the table's `AttributeDefinitions`. */
export function keyAttributes(): readonly KeyAttribute[] {
  const { partitionKey, stateIndex } = SPOOL_LAYOUT.table;
  return [partitionKey, stateIndex.partitionKey, stateIndex.sortKey];
}

/**
 * The SQS attributes of the task queue, as `CreateQueue` takes them (all strings).
 * `maxReceiveCount` and `visibilityTimeoutSeconds` default to the layout's.
 */
export function taskQueueAttributes(options: {
  readonly deadLetterQueueArn: string;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
}): Record<string, string> {
  const q = SPOOL_LAYOUT.queue;
  return {
    ...fifoAttributes(q),
    ContentBasedDeduplication: String(q.contentBasedDeduplication),
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? q.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: options.deadLetterQueueArn,
      maxReceiveCount: options.maxReceiveCount ?? q.maxReceiveCount,
    }),
  };
}

/** The SQS attributes of the dead-letter queue, as `CreateQueue` takes them. */
export function deadLetterQueueAttributes(): Record<string, string> {
  const q = SPOOL_LAYOUT.deadLetterQueue;
  return { ...fifoAttributes(q), MessageRetentionPeriod: String(q.retentionSeconds) };
}

function fifoAttributes(q: SpoolLayout['queue'] | SpoolLayout['deadLetterQueue']): Record<string, string> {
  return {
    FifoQueue: String(q.fifo),
    DeduplicationScope: q.deduplicationScope,
    FifoThroughputLimit: q.fifoThroughputLimit,
    MaximumMessageSize: String(q.maximumMessageSizeBytes),
    SqsManagedSseEnabled: String(q.encryption === 'sqs-managed'),
  };
}
