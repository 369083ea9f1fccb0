/**
 * The `TaskQueue` CDK construct: everything spool's AWS backend needs, laid out exactly as
 * `lib/aws/provision.ts` creates it for tests — an SQS FIFO task queue and its dead-letter queue
 * (high-throughput mode), a DynamoDB table of task records, the S3 bucket of blobs (the
 * claim-check), and the worker Lambda on an SQS event source — plus least-privilege grants for
 * producers, alarms and a dashboard.
 *
 * @module
 */

import { Annotations, Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { lockKey, STATE_INDEX, STATE_PROJECTION_ATTRIBUTES, taskKey } from '../lib/aws/keys.js';
import { blobLifecycleRules, type KeyAttribute, SPOOL_LAYOUT } from '../lib/aws/layout.js';
import { BLOB_KEY_PREFIX, type BlobKind } from '../lib/protocol/blob-ref.js';
import { TIMER_PREFIX } from '../lib/protocol/ids.js';
import { functionCode } from './function-code.js';
import { TaskQueueMonitoring } from './task-queue-monitoring.js';
import { resolveTaskQueueProps, type TaskQueueProps } from './task-queue-props.js';
import { TaskQueueSchedules } from './task-queue-schedules.js';

export { TASK_QUEUE_DEFAULTS, type TaskQueueProps, TaskQueuePropsError } from './task-queue-props.js';

/** The layout's values (lib/aws/layout.ts, shared with provisioning) as aws-cdk-lib's enums. */
const LAYOUT = SPOOL_LAYOUT;
const CDK_ENUMS = {
  attributeType: { S: dynamodb.AttributeType.STRING, N: dynamodb.AttributeType.NUMBER },
  deduplicationScope: { messageGroup: sqs.DeduplicationScope.MESSAGE_GROUP },
  fifoThroughputLimit: { perMessageGroupId: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID },
  billingMode: { PAY_PER_REQUEST: dynamodb.BillingMode.PAY_PER_REQUEST },
  projection: { ALL: dynamodb.ProjectionType.ALL },
} as const;
const cdkKey = (a: KeyAttribute): dynamodb.Attribute => ({ name: a.name, type: CDK_ENUMS.attributeType[a.type] });

/** Key prefixes of the table's items (from `lib/aws/keys.ts`), for `dynamodb:LeadingKeys`. */
const TASK_ITEMS = taskKey('*').pk; // task#*
const UNIQUE_LOCK_ITEMS = lockKey('unique', '*').pk; // lock#unique#*
const SINGLETON_LOCK_ITEMS = lockKey('singleton', '*').pk; // lock#singleton#* (a fire's overlap lock too)

/** The AWS services that use the customer managed key for a grantee: `kms:ViaService` names them. */
type KeyService = 'sqs' | 'dynamodb' | 's3' | 'scheduler';

/**
 * The object keys of one kind of blob in the bucket (`blobs/<days>d/<kind>/…`,
 * `lib/protocol/blob-ref.ts`), for grants on that kind only; `'*'`: every blob.
 */
const blobObjects = (bucket: s3.IBucket, kind: BlobKind | '*') =>
  kind === '*' ? bucket.arnForObjects(`${BLOB_KEY_PREFIX}*`) : bucket.arnForObjects(`${BLOB_KEY_PREFIX}*d/${kind}/*`);

/**
 * The KMS actions each use of a customer managed key needs, each only through its service
 * (`kms:ViaService`): SQS sends GenerateDataKey and receives Decrypt; DynamoDB reads Decrypt and
 * writes Encrypt too (the actions aws-cdk-lib's table grants give); S3's PutObject (one part)
 * GenerateDataKey and GetObject Decrypt.
 */
const KMS = {
  sqsSend: ['kms:Decrypt', 'kms:GenerateDataKey'],
  sqsReceive: ['kms:Decrypt'],
  dynamodbRead: ['kms:Decrypt', 'kms:DescribeKey'],
  dynamodbWrite: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
  s3Put: ['kms:GenerateDataKey'],
  s3Get: ['kms:Decrypt'],
  s3GetPut: ['kms:Decrypt', 'kms:GenerateDataKey'],
} as const;

/**
 * Grant `actions` on `key` to `grantee`, only when `service` in `region` calls KMS for it
 * (`kms:ViaService`), so the grantee cannot decrypt or encrypt with the key directly.
 */
function grantKeyVia(
  grantee: iam.IGrantable,
  key: kms.IKey,
  actions: readonly string[],
  service: KeyService,
  region: string,
): iam.Grant {
  return iam.Grant.addToPrincipalOrResource({
    grantee,
    actions: [...actions],
    resourceArns: [key.keyArn],
    resourceSelfArns: ['*'],
    resource: key,
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
  });
}

/**
 * A spool task queue: its queues and table, and the grants producers need. The grants follow a
 * handle's capabilities one to one: `enqueue` ({@link grantEnqueue}), `status()`, `info()` and
 * `result()` ({@link grantReadResults}), `cancel()` ({@link grantCancel}).
 */
export interface ITaskQueue extends IConstruct {
  /** The SQS FIFO task queue. */
  readonly queue: sqs.IQueue;
  /** The SQS FIFO dead-letter queue. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The DynamoDB table of task records. */
  readonly table: dynamodb.ITable;
  /**
   * The S3 bucket of blobs: arguments, results and error messages too large for a message or a
   * record (the claim-check, `lib/backend/blobs.ts`); absent for a task queue referenced without one.
   */
  readonly bucket?: s3.IBucket | undefined;
  /** The customer managed key of the queues, the table and the bucket (and, for a TaskQueue, its log group and schedules), if there is one. */
  readonly encryptionKey?: kms.IKey | undefined;
  /**
   * The environment `openAwsBackend()` reads: `SPOOL_QUEUE_URL`, `SPOOL_DLQ_URL`, `SPOOL_TABLE`,
   * `SPOOL_BUCKET` (with a bucket), and with a scheduler `SPOOL_SCHEDULE_GROUP` and
   * `SPOOL_SCHEDULER_ROLE_ARN` (`AWS_REGION` is set by Lambda, ECS and the SDK's usual sources).
   */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Let `grantee` enqueue runs: send to the task queue, write the blobs of arguments too large for
   * a message (`PutObject` on `blobs/*d/args/*`), take and give back the lock of a `unique` task
   * (reading only its holder's state: `pk`, `state`, `expiresAt`), and (with a scheduler, unless
   * `delays: false`) create the one-time schedules of runs delayed by more than 15 minutes,
   * passing the Scheduler role. Nothing else: it cannot receive or delete messages, write task
   * records, read any run's result, read blobs, delete schedules or touch recurring ones.
   *
   * @param options.delays - `false` for a producer that never delays a run by more than 15
   * minutes (such as the HTTP API): no Scheduler permission and no `iam:PassRole`.
   */
  grantEnqueue(grantee: iam.IGrantable, options?: GrantEnqueueOptions): iam.Grant;
  /**
   * Let `grantee` read task records (a handle's `status()`, `info()` and `result()`), and the blobs
   * of results and error messages too large for a record (`GetObject` on `blobs/*d/result/*` and
   * `blobs/*d/error/*`).
   */
  grantReadResults(grantee: iam.IGrantable): iam.Grant;
  /**
   * Let `grantee` cancel runs (a handle's `cancel()`): update task records (mark a run cancelled,
   * or ask a running one to stop), give back a cancelled `unique` run's lock, delete a task record
   * that has expired but is not yet removed by TTL, and (with a scheduler) delete a delayed run's
   * one-time schedule `delay.<id>`. Nothing else: it cannot send, read records, create schedules
   * or touch recurring ones.
   */
  grantCancel(grantee: iam.IGrantable): iam.Grant;
  /** Add {@link environment} to a function's environment. */
  bindTo(fn: lambda.Function): void;
}

/** Options of {@link ITaskQueue.grantEnqueue}. */
export interface GrantEnqueueOptions {
  /**
   * Whether the grantee may delay runs by more than 15 minutes: create their one-time schedules
   * `delay.<id>` and pass the Scheduler role. `false` grants no Scheduler permission and no
   * `iam:PassRole`; such a producer's long delays fail with `AccessDenied`.
   * @default true (when the task queue has a scheduler)
   */
  readonly delays?: boolean;
}

/** What {@link TaskQueue.fromTaskQueueAttributes} needs to reference a task queue made elsewhere. */
export interface TaskQueueAttributes {
  /** ARN of the FIFO task queue. */
  readonly queueArn: string;
  /** ARN of the FIFO dead-letter queue. */
  readonly deadLetterQueueArn: string;
  /** Name of the table of task records. */
  readonly tableName: string;
  /**
   * Name of the bucket of blobs (the TaskQueue's `bucket.bucketName`).
   * @default none: producers refuse arguments too large for a message, and results must fit a record
   */
  readonly bucketName?: string;
  /**
   * The customer managed key of the queues and the table.
   * @default none (SQS-managed SSE and the AWS managed DynamoDB key need no key permissions)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The schedule group and the Scheduler role's ARN (the TaskQueue's `schedules.groupName` and
   * `schedules.role.roleArn`), for producers that delay runs by more than 15 minutes.
   * @default none: such producers get a clear error
   */
  readonly scheduler?: { readonly groupName: string; readonly roleArn: string };
}

/** The grants, shared by a {@link TaskQueue} and a referenced one. */
abstract class TaskQueueBase extends Construct implements ITaskQueue {
  abstract readonly queue: sqs.IQueue;
  abstract readonly deadLetterQueue: sqs.IQueue;
  abstract readonly table: dynamodb.ITable;
  abstract readonly bucket: s3.IBucket | undefined;
  abstract readonly encryptionKey: kms.IKey | undefined;
  /** The schedule group's name and the Scheduler role's ARN, when there is a scheduler. */
  protected abstract readonly schedulerRef: { readonly groupName: string; readonly roleArn: string } | undefined;

  get environment(): Readonly<Record<string, string>> {
    return {
      SPOOL_QUEUE_URL: this.queue.queueUrl,
      SPOOL_DLQ_URL: this.deadLetterQueue.queueUrl,
      SPOOL_TABLE: this.table.tableName,
      ...(this.bucket === undefined ? {} : { SPOOL_BUCKET: this.bucket.bucketName }),
      ...(this.schedulerRef === undefined
        ? {}
        : { SPOOL_SCHEDULE_GROUP: this.schedulerRef.groupName, SPOOL_SCHEDULER_ROLE_ARN: this.schedulerRef.roleArn }),
    };
  }

  grantEnqueue(grantee: iam.IGrantable, options: GrantEnqueueOptions = {}): iam.Grant {
    // enqueue/enqueueMany send with SendMessageBatch, which IAM authorizes as sqs:SendMessage.
    let grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['sqs:SendMessage'],
      resourceArns: [this.queue.queueArn],
    });
    // A `unique` task's enqueue takes its lock (conditional PutItem on lock#unique#<key>) and gives
    // it back when the send fails (conditional DeleteItem). Only lock#unique# items.
    grant = grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resourceArns: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [UNIQUE_LOCK_ITEMS] } },
      }),
    );
    // When the lock is held, enqueue reads the holder's state (stateOf: GetItem on task#<id>
    // projected to pk, state, expiresAt) to decide whether the holder has ended and the lock can be
    // taken over. Only those attributes: a GetItem without that projection has dynamodb:Select
    // ALL_ATTRIBUTES and is refused, so a producer cannot read any run's result, error or progress.
    grant = grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:GetItem'],
        resourceArns: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [TASK_ITEMS] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...STATE_PROJECTION_ATTRIBUTES] },
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
    // Arguments too large for a message are written as a blob before the send (PutObject on the
    // args blobs only).
    if (this.bucket !== undefined) {
      grant = grant.combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['s3:PutObject'],
          resourceArns: [blobObjects(this.bucket, 'args')],
        }),
      );
    }
    // A run delayed by more than 15 minutes is a one-time schedule `delay.<id>` in spool's group
    // (CreateSchedule, passing the Scheduler role). Deleting it is cancel's (grantCancel) alone.
    //
    // IAM cannot hold a producer to spool's form of that schedule (`at(…)`, ActionAfterCompletion
    // DELETE, the task queue as target): EventBridge Scheduler has no condition keys of its own
    // (the Service Authorization Reference lists only aws:ResourceTag/${TagKey} for CreateSchedule),
    // so none names the expression, the target or the role. The bounds are the resource (the
    // `delay.*` names of this group only, never a recurring schedule's name) and the role passed
    // (the Scheduler role, which may only send to the task queue): a hand-made `delay.*` schedule
    // can only send to the task queue, which this grantee may do anyway with sqs:SendMessage.
    const ref = this.schedulerRef;
    if (ref !== undefined && options.delays !== false) {
      grant = grant.combine(this.#grantDelayedRunSchedules(grantee, ref.groupName, 'scheduler:CreateSchedule'));
      grant = grant.combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['iam:PassRole'],
          resourceArns: [ref.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      );
    }
    // With a customer managed key, each use through its service only: the send (SQS), the lock
    // writes and the state read (DynamoDB), the argument blobs (S3).
    const key = this.encryptionKey;
    if (key !== undefined) {
      grant = grant.combine(grantKeyVia(grantee, key, KMS.sqsSend, 'sqs', this.queue.env.region));
      grant = grant.combine(grantKeyVia(grantee, key, KMS.dynamodbWrite, 'dynamodb', this.table.env.region));
      if (this.bucket !== undefined) {
        grant = grant.combine(grantKeyVia(grantee, key, KMS.s3Put, 's3', this.bucket.env.region));
      }
    }
    return grant;
  }

  grantReadResults(grantee: iam.IGrantable): iam.Grant {
    // A handle's status()/info()/result() read the run's record: GetItem on task#<id> (every
    // attribute), and a result or an error message kept as a blob: GetObject on those blobs only.
    let grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [TASK_ITEMS] } },
    });
    if (this.bucket !== undefined) {
      grant = grant.combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['s3:GetObject'],
          resourceArns: [blobObjects(this.bucket, 'result'), blobObjects(this.bucket, 'error')],
        }),
      );
    }
    const key = this.encryptionKey;
    if (key !== undefined) {
      grant = grant.combine(grantKeyVia(grantee, key, KMS.dynamodbRead, 'dynamodb', this.table.env.region));
      if (this.bucket !== undefined) {
        grant = grant.combine(grantKeyVia(grantee, key, KMS.s3Get, 's3', this.bucket.env.region));
      }
    }
    return grant;
  }

  grantCancel(grantee: iam.IGrantable): iam.Grant {
    // cancel (lib/aws/dynamo-store.ts): a conditional UpdateItem on task#<id> marks a queued run
    // cancelled, or asks a running one to stop (cancelRequested). Only task# items.
    let grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:UpdateItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [TASK_ITEMS] } },
    });
    // A cancelled `unique` run gives its lock back (DeleteItem on lock#unique#<key>, condition
    // holder = id), and a record whose retention has passed but that TTL has not removed yet is
    // deleted before the cancel is retried (DeleteItem on task#<id>, condition expiresAt <= now).
    grant = grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:DeleteItem'],
        resourceArns: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [TASK_ITEMS, UNIQUE_LOCK_ITEMS] } },
      }),
    );
    // A cancelled delayed run's one-time schedule delay.<id> is deleted (lib/client/handle.ts).
    const ref = this.schedulerRef;
    if (ref !== undefined) {
      grant = grant.combine(this.#grantDelayedRunSchedules(grantee, ref.groupName, 'scheduler:DeleteSchedule'));
    }
    // With a customer managed key: the record writes, through DynamoDB only.
    const key = this.encryptionKey;
    if (key !== undefined) {
      grant = grant.combine(grantKeyVia(grantee, key, KMS.dynamodbWrite, 'dynamodb', this.table.env.region));
    }
    return grant;
  }

  bindTo(fn: lambda.Function): void {
    for (const [key, value] of Object.entries(this.environment)) fn.addEnvironment(key, value);
  }

  /** `action` on the one-time schedules `delay.*` of delayed runs in spool's schedule group. */
  #grantDelayedRunSchedules(grantee: iam.IGrantable, groupName: string, action: string): iam.Grant {
    const { partition, region, account } = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [action],
      resourceArns: [`arn:${partition}:scheduler:${region}:${account}:schedule/${groupName}/${TIMER_PREFIX}*`],
    });
  }
}

/**
 * spool's AWS backend as one construct: an SQS FIFO task queue in high-throughput mode with a FIFO
 * dead-letter queue (both encrypted, TLS-only), the DynamoDB table of task records (on-demand,
 * point-in-time recovery, TTL, the sparse `byState` index), the worker Lambda (Node.js 22+, arm64,
 * one CommonJS bundle, X-Ray) on an SQS event source with partial batch responses, alarms and a
 * dashboard, and an EventBridge Scheduler group with the app's recurring schedules (`schedules`)
 * and room for the one-time schedules of long delays. The worker's role holds exactly the SQS,
 * DynamoDB (task and lock items only) and S3 actions the worker makes.
 *
 * @example
 * ```ts
 * import { TaskQueue } from 'spool-tasks/cdk';
 *
 * // functions/worker.ts exports `handler = createSqsHandler(...)` (spool-tasks/lambda). A relative
 * // entry resolves against the folder cdk runs in; the lockfile is found walking up from it.
 * const tasks = new TaskQueue(stack, 'Tasks', {
 *   workerEntry: 'functions/worker.ts',
 *   maxConcurrency: 50,
 *   alarmTopic: opsTopic,
 * });
 * const api = new NodejsFunction(stack, 'Api', { entry: 'functions/api.ts' });
 * tasks.bindTo(api);            // SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE, SPOOL_SCHEDULE_GROUP, …
 * tasks.grantEnqueue(api);      // send, unique-task locks, delayed runs' schedules ({ delays: false }: none)
 * tasks.grantReadResults(api);  // read task records: status(), info(), result()
 * tasks.grantCancel(api);       // cancel()
 * // in functions/api.ts: createSpool({ backend: openAwsBackend(), tasks }).enqueue(...)
 * ```
 */
export class TaskQueue extends TaskQueueBase {
  /**
   * Reference a task queue defined elsewhere (another stack or app), to grant and bind producers.
   */
  static fromTaskQueueAttributes(scope: Construct, id: string, attrs: TaskQueueAttributes): ITaskQueue {
    return new ImportedTaskQueue(scope, id, attrs);
  }

  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly table: dynamodb.ITable;
  /** The bucket of blobs: private, encrypted, TLS only, each blob deleted by its retention class's lifecycle rule. */
  readonly bucket: s3.IBucket;
  readonly encryptionKey: kms.IKey | undefined;
  /** The worker function. */
  readonly worker: lambda.Function;
  /** The worker's role: exactly the actions the worker makes (see `#grantWorker`), no managed policy. */
  readonly workerRole: iam.Role;
  /** The worker's log group. */
  readonly workerLogGroup: logs.LogGroup;
  /** The alarms and the dashboard. */
  readonly monitoring: TaskQueueMonitoring;
  /** The schedule group, the Scheduler role and the recurring schedules (`props.schedules`). */
  readonly scheduling: TaskQueueSchedules;
  protected readonly schedulerRef: { readonly groupName: string; readonly roleArn: string };

  constructor(scope: Construct, id: string, props: TaskQueueProps) {
    super(scope, id);
    const p = resolveTaskQueueProps(props);
    this.encryptionKey = p.encryptionKey;

    // Queues: FIFO, high-throughput mode, encrypted, TLS only (the layout: lib/aws/layout.ts).
    const queueBase = {
      fifo: LAYOUT.queue.fifo,
      deduplicationScope: CDK_ENUMS.deduplicationScope[LAYOUT.queue.deduplicationScope],
      fifoThroughputLimit: CDK_ENUMS.fifoThroughputLimit[LAYOUT.queue.fifoThroughputLimit],
      maxMessageSizeBytes: LAYOUT.queue.maximumMessageSizeBytes,
      enforceSSL: true,
      ...(p.encryptionKey === undefined
        ? { encryption: sqs.QueueEncryption.SQS_MANAGED }
        : { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: p.encryptionKey }),
    } satisfies sqs.QueueProps;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...queueBase,
      retentionPeriod: Duration.seconds(LAYOUT.deadLetterQueue.retentionSeconds),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...queueBase,
      // EventBridge Scheduler's FIFO targets carry no deduplication id; spool's own sends do.
      contentBasedDeduplication: LAYOUT.queue.contentBasedDeduplication,
      visibilityTimeout: p.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: p.maxReceiveCount },
    });

    // Table: pk (S), TTL on ttl, sparse index byState (gsiState S, updatedAt N), on-demand, PITR.
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: cdkKey(LAYOUT.table.partitionKey),
      billingMode: CDK_ENUMS.billingMode[LAYOUT.table.billingMode],
      timeToLiveAttribute: LAYOUT.table.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: LAYOUT.table.pointInTimeRecovery },
      ...(p.encryptionKey === undefined
        ? { encryption: dynamodb.TableEncryption.AWS_MANAGED }
        : { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: p.encryptionKey }),
      removalPolicy: p.removalPolicy,
      deletionProtection: p.removalPolicy !== RemovalPolicy.DESTROY,
    });
    table.addGlobalSecondaryIndex({
      indexName: LAYOUT.table.stateIndex.name,
      partitionKey: cdkKey(LAYOUT.table.stateIndex.partitionKey),
      sortKey: cdkKey(LAYOUT.table.stateIndex.sortKey),
      projectionType: CDK_ENUMS.projection[LAYOUT.table.stateIndex.projection],
    });
    // aws-cdk-lib declares Table#tableStreamArn as `string | undefined` and ITable's as optional:
    // the same at run time, but not assignable under exactOptionalPropertyTypes.
    this.table = table as unknown as dynamodb.ITable;

    // Blobs (the claim-check): private, encrypted, TLS only; one lifecycle rule per retention class
    // (lib/aws/layout.ts), each at least as long as the blobs under it must be kept (lib/backend/blobs.ts).
    const bucket = new s3.Bucket(this, 'Blobs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      ...(p.encryptionKey === undefined
        ? { encryption: s3.BucketEncryption.S3_MANAGED }
        : { encryption: s3.BucketEncryption.KMS, encryptionKey: p.encryptionKey, bucketKeyEnabled: true }),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        ...blobLifecycleRules().map((rule) => ({
          id: rule.id,
          prefix: rule.prefix,
          expiration: Duration.days(rule.expirationDays),
        })),
        { id: 'spool-abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      ...(p.blobAccessLogsBucket === undefined
        ? {}
        : { serverAccessLogsBucket: p.blobAccessLogsBucket, serverAccessLogsPrefix: 'spool-blobs/' }),
      removalPolicy: p.removalPolicy,
    });
    // As for the table: Bucket's optional members are `T | undefined`, not assignable to IBucket's
    // under exactOptionalPropertyTypes, though the same at run time.
    this.bucket = bucket as unknown as s3.IBucket;

    this.scheduling = new TaskQueueSchedules(this, 'Scheduling', {
      queue: this.queue,
      encryptionKey: p.encryptionKey,
      schedules: p.schedules,
    });
    this.schedulerRef = { groupName: this.scheduling.groupName, roleArn: this.scheduling.role.roleArn };

    // The worker: its own role (no managed policies), its own log group (with the customer
    // managed key, when there is one: its key policy must then let CloudWatch Logs use it).
    const role = new iam.Role(this, 'WorkerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `spool worker of ${this.node.path}`,
    });
    this.workerRole = role;
    if (p.encryptionKey !== undefined) this.#allowLogsToUseKey(p.encryptionKey);
    this.workerLogGroup = new logs.LogGroup(this, 'WorkerLogs', {
      retention: p.logRetention,
      ...(p.encryptionKey === undefined ? {} : { encryptionKey: p.encryptionKey }),
    });
    this.workerLogGroup.grantWrite(role);
    this.worker = new nodejs.NodejsFunction(this, 'Worker', {
      ...functionCode(p.worker),
      runtime: p.runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: p.workerMemorySizeMiB,
      timeout: p.workerTimeout,
      role,
      logGroup: this.workerLogGroup,
      // JSON lines, so that levels apply: no START/END/REPORT at WARN (see workerSystemLogLevel).
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: p.workerSystemLogLevel,
      applicationLogLevelV2: p.workerApplicationLogLevel,
      tracing: lambda.Tracing.ACTIVE,
      ...(p.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: p.reservedConcurrency }),
      environment: { ...p.workerEnvironment, ...this.environment, NODE_OPTIONS: '--enable-source-maps' },
      description: 'spool worker: runs tasks from the SQS FIFO task queue',
    });
    this.#grantWorker(role);
    // The SQS event source, as aws-cdk-lib's SqsEventSource makes it (the same id, so the same
    // logical id), but with the consumer's grant written in #grantWorker: SqsEventSource would add
    // kms:Decrypt on the key without kms:ViaService. FIFO allows no batching window.
    this.worker.addEventSourceMapping(`SqsEventSource:${Names.nodeUniqueId(this.queue.node)}`, {
      eventSourceArn: this.queue.queueArn,
      batchSize: p.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: p.maxConcurrency,
    });

    this.monitoring = new TaskQueueMonitoring(this, 'Monitoring', {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      worker: this.worker,
      workerTimeout: p.workerTimeout,
      oldestMessageAgeAlarmThreshold: p.oldestMessageAgeAlarmThreshold,
      alarmTopic: p.alarmTopic,
      dashboardName: p.dashboardName,
      metricsNamespace: p.metricsNamespace,
      metricsService: p.metricsService,
    });
  }

  /** The worker's own permissions, each for a call it makes (lib/aws/dynamo-store.ts, sqs-queue.ts). */
  #grantWorker(role: iam.IRole): void {
    // The event source's poller (as the worker's role): receive, delete, hide again and read the
    // attributes of the task queue's messages (the actions of Queue#grantConsumeMessages).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueUrl',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ],
        resources: [this.queue.queueArn],
      }),
    );
    // Task handlers may enqueue follow-up runs (SendMessageBatch → sqs:SendMessage on the task
    // queue); a run whose retries are exhausted is sent to the dead-letter queue by the worker.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn, this.deadLetterQueue.queueArn],
      }),
    );
    // claim/heartbeat/finish/deadLetter/cancel/revive: conditional UpdateItem on task#; locks:
    // PutItem/DeleteItem on lock#unique# and lock#singleton# (a fire's overlap lock is a singleton
    // lock); get: GetItem. TransactWriteItems (a singleton's claims and heartbeats, finishes that
    // release locks) is authorized per item as UpdateItem + PutItem or DeleteItem. Every item of
    // the table is under one of these prefixes (lib/aws/keys.ts); blobs are in S3.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [TASK_ITEMS, UNIQUE_LOCK_ITEMS, SINGLETON_LOCK_ITEMS] },
        },
      }),
    );
    // The claim-check: read arguments' blobs, write results', error messages' and dead-letter
    // copies' blobs, and (a handler's enqueue) arguments'. Objects under blobs/ only.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [blobObjects(this.bucket, '*')],
      }),
    );
    // list(): Query on the sparse index byState.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${STATE_INDEX}`],
      }),
    );
    // With a customer managed key, each use through its service only: receiving and sending (SQS),
    // the records and locks (DynamoDB), the blobs (S3). Its log group's encryption is CloudWatch
    // Logs' own use of the key (the key policy, #allowLogsToUseKey): the role needs none.
    const key = this.encryptionKey;
    if (key !== undefined) {
      const { region } = Stack.of(this);
      grantKeyVia(role, key, KMS.sqsSend, 'sqs', region);
      grantKeyVia(role, key, KMS.dynamodbWrite, 'dynamodb', region);
      grantKeyVia(role, key, KMS.s3GetPut, 's3', region);
    }
  }

  /**
   * Let CloudWatch Logs of this region encrypt this account's log groups with `key` (the key
   * policy statement the CloudWatch Logs guide gives, for `log-group:*` of this account: a
   * statement naming the worker's log group would make the log group and the key depend on each
   * other). A key defined elsewhere (`Key.fromKeyArn`) has a key policy CDK cannot change: then
   * a warning says what it must allow.
   */
  #allowLogsToUseKey(key: kms.IKey): void {
    const { partition, region, account } = Stack.of(this);
    const service = `logs.${region}.amazonaws.com`;
    const { statementAdded } = key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(service)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
    if (!statementAdded) {
      Annotations.of(this).addWarningV2(
        'spool:logGroupKeyPolicy',
        `The encryptionKey's key policy cannot be changed here (a key defined elsewhere), and the worker's log group is encrypted with it: let the principal ${service} use it (kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*, condition kms:EncryptionContext:aws:logs:arn on this account's log groups), or the log group cannot be created.`,
      );
    }
  }
}

/** A task queue defined elsewhere, referenced by its attributes. */
class ImportedTaskQueue extends TaskQueueBase {
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket | undefined;
  readonly encryptionKey: kms.IKey | undefined;
  protected readonly schedulerRef: { readonly groupName: string; readonly roleArn: string } | undefined;

  constructor(scope: Construct, id: string, attrs: TaskQueueAttributes) {
    super(scope, id);
    this.schedulerRef = attrs.scheduler;
    const key = attrs.encryptionKey;
    this.encryptionKey = key;
    this.queue = sqs.Queue.fromQueueAttributes(this, 'Queue', {
      queueArn: attrs.queueArn,
      fifo: true,
      ...(key === undefined ? {} : { keyArn: key.keyArn }),
    });
    this.deadLetterQueue = sqs.Queue.fromQueueAttributes(this, 'DeadLetterQueue', {
      queueArn: attrs.deadLetterQueueArn,
      fifo: true,
      ...(key === undefined ? {} : { keyArn: key.keyArn }),
    });
    this.table = dynamodb.Table.fromTableAttributes(this, 'Table', {
      tableName: attrs.tableName,
      ...(key === undefined ? {} : { encryptionKey: key }),
    });
    this.bucket =
      attrs.bucketName === undefined
        ? undefined
        : s3.Bucket.fromBucketAttributes(this, 'Blobs', {
            bucketName: attrs.bucketName,
            ...(key === undefined ? {} : { encryptionKey: key }),
          });
  }
}
