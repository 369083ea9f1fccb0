/**
 * IAM: the worker's role holds exactly the actions the worker makes; grantEnqueue, grantReadResults
 * and grantCancel give a producer exactly what enqueue and a handle's status()/info()/result() and
 * cancel() need, nothing else.
 */

import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { acknowledgeTaskQueueFindings, TaskQueue, type TaskQueueAttributes } from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';
import {
  cancelTimerStatement,
  leadingKeys,
  sorted,
  statementsOf,
  stateReadStatement,
  timerStatements,
  viaService,
} from './iam.js';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({});');

function setup() {
  const stack = new Stack(new App(), 'Test');
  const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const id = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const arn = (construct: IConstruct) => ({ 'Fn::GetAtt': [id(construct), 'Arn'] });
  /** The ARN of the blob bucket's objects matching `pattern` (`blobs/*d/args/*`, …). */
  const objects = (pattern: string) => ({ 'Fn::Join': ['', [arn(tasks.bucket), `/${pattern}`]] });
  return { stack, tasks, producer, id, arn, objects, table: tasks.node.findChild('Table') };
}

describe('GIVEN a TaskQueue', () => {
  it("THEN the worker's role has no managed policy and exactly the worker's SQS, DynamoDB, S3 (blobs), log and X-Ray actions", () => {
    const { stack, tasks, id, arn, objects, table } = setup();
    const role = Template.fromStack(stack).toJSON().Resources[id(tasks.workerRole)];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(statementsOf(stack, tasks.workerRole)).toEqual(
      sorted([
        { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [arn(tasks.workerLogGroup)] },
        { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'] },
        // Follow-up enqueues and explicit dead-lettering.
        { actions: ['sqs:SendMessage'], resources: [arn(tasks.deadLetterQueue), arn(tasks.queue)] },
        // The event source's consumer actions.
        {
          actions: [
            'sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
            'sqs:GetQueueUrl',
            'sqs:ReceiveMessage',
          ],
          resources: [arn(tasks.queue)],
        },
        // Every item of the table is a task record or a lock.
        {
          actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
          resources: [arn(table)],
          condition: leadingKeys('task#*', 'lock#unique#*', 'lock#singleton#*'),
        },
        {
          actions: ['dynamodb:Query'],
          resources: [{ 'Fn::Join': ['', [arn(table), '/index/byState']] }],
        },
        // The claim-check: read arguments, write results, error messages, dead-letter copies (and a handler's enqueues).
        { actions: ['s3:GetObject', 's3:PutObject'], resources: [objects('blobs/*')] },
      ]),
    );
  });

  it("WHEN a producer is granted grantEnqueue THEN it may send to the task queue, write argument blobs, touch unique locks, read a task record's state only, and create delay.* timers passing the Scheduler role, only", () => {
    const { stack, tasks, producer, arn, objects, table } = setup();
    tasks.grantEnqueue(producer);
    expect(statementsOf(stack, producer)).toEqual(
      sorted([
        { actions: ['sqs:SendMessage'], resources: [arn(tasks.queue)] },
        {
          actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'],
          resources: [arn(table)],
          condition: leadingKeys('lock#unique#*'),
        },
        // A unique lock's holder: its state, never its result.
        stateReadStatement(arn(table)),
        // Arguments too large for a message: their blobs, nothing else in the bucket.
        { actions: ['s3:PutObject'], resources: [objects('blobs/*d/args/*')] },
        // Runs delayed by more than 15 minutes: delay.* timers in the task queue's group, the Scheduler role.
        ...timerStatements({ Ref: stack.getLogicalId(tasks.scheduling.group) }, arn(tasks.scheduling.role)),
      ]),
    );
  });

  it('WHEN a reader is granted grantReadResults THEN it may only GetItem task records and GetObject result and error-message blobs', () => {
    const { stack, tasks, producer, arn, objects, table } = setup();
    tasks.grantReadResults(producer);
    expect(statementsOf(stack, producer)).toEqual(
      sorted([
        { actions: ['dynamodb:GetItem'], resources: [arn(table)], condition: leadingKeys('task#*') },
        { actions: ['s3:GetObject'], resources: [objects('blobs/*d/error/*'), objects('blobs/*d/result/*')] },
      ]),
    );
  });

  it('WHEN a canceller is granted grantCancel THEN it may update task records, delete expired records and unique locks, and delete delay.* timers, only', () => {
    const { stack, tasks, producer, arn, table } = setup();
    tasks.grantCancel(producer);
    expect(statementsOf(stack, producer)).toEqual(
      sorted([
        // cancel: mark a queued run cancelled, or ask a running one to stop.
        { actions: ['dynamodb:UpdateItem'], resources: [arn(table)], condition: leadingKeys('task#*') },
        // Give back a cancelled unique run's lock; delete an expired record before retrying.
        {
          actions: ['dynamodb:DeleteItem'],
          resources: [arn(table)],
          condition: leadingKeys('task#*', 'lock#unique#*'),
        },
        // A cancelled delayed run's one-time schedule.
        cancelTimerStatement({ Ref: stack.getLogicalId(tasks.scheduling.group) }),
      ]),
    );
  });

  it('WHEN a producer is granted all three THEN it holds the actions of enqueue, read and cancel, and no grant holds an action only another one needs', () => {
    const { stack, tasks, producer } = setup();
    const alone = (grant: 'grantEnqueue' | 'grantReadResults' | 'grantCancel') => {
      const s = setup();
      s.tasks[grant](s.producer);
      return statementsOf(s.stack, s.producer).flatMap((st) => st.actions);
    };
    tasks.grantEnqueue(producer);
    tasks.grantReadResults(producer);
    tasks.grantCancel(producer);
    const actions = statementsOf(stack, producer).flatMap((s) => s.actions);
    expect([...new Set(actions)].sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'iam:PassRole',
      's3:GetObject',
      's3:PutObject',
      'scheduler:CreateSchedule',
      'scheduler:DeleteSchedule',
      'sqs:SendMessage',
    ]);
    expect(alone('grantEnqueue')).not.toContain('s3:GetObject');
    expect(alone('grantCancel')).not.toContain('s3:PutObject');
    expect(alone('grantEnqueue')).not.toContain('scheduler:DeleteSchedule');
    expect(alone('grantEnqueue')).not.toContain('dynamodb:UpdateItem');
    expect(alone('grantCancel')).not.toContain('scheduler:CreateSchedule');
    expect(alone('grantCancel')).not.toContain('dynamodb:GetItem');
    expect(alone('grantReadResults').sort()).toEqual(['dynamodb:GetItem', 's3:GetObject']);
  });

  it('WHEN a function is bound THEN it gets SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE, SPOOL_BUCKET, SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN', () => {
    const { stack, tasks, id, arn, table } = setup();
    const fn = new lambda.Function(stack, 'Api', {
      code: INLINE,
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });
    tasks.bindTo(fn);
    const props = Template.fromStack(stack).toJSON().Resources[id(fn)].Properties;
    expect(props.Environment.Variables).toEqual({
      SPOOL_QUEUE_URL: { Ref: id(tasks.queue) },
      SPOOL_DLQ_URL: { Ref: id(tasks.deadLetterQueue) },
      SPOOL_TABLE: { Ref: id(table) },
      SPOOL_BUCKET: { Ref: id(tasks.bucket) },
      SPOOL_SCHEDULE_GROUP: { Ref: stack.getLogicalId(tasks.scheduling.group) },
      SPOOL_SCHEDULER_ROLE_ARN: arn(tasks.scheduling.role),
    });
  });

  it('THEN the blob bucket is private, encrypted, TLS only, and each retention class has a lifecycle rule of its length', () => {
    const { stack, tasks, id } = setup();
    const resources = Template.fromStack(stack).toJSON().Resources;
    const props = resources[id(tasks.bucket)].Properties;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    const rules = props.LifecycleConfiguration.Rules as { Id: string; Prefix?: string; ExpirationInDays?: number }[];
    const classes = rules.filter((r) => r.Prefix !== undefined);
    expect(classes.map((r) => [r.Prefix, r.ExpirationInDays])).toEqual(
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((d) => [`blobs/${d}d/`, d]),
    );
    const policy = Object.values(resources).find((r) => (r as { Type: string }).Type === 'AWS::S3::BucketPolicy') as {
      Properties: { PolicyDocument: { Statement: { Effect: string; Condition?: unknown }[] } };
    };
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('GIVEN a TaskQueue with blobAccessLogsBucket', () => {
  it('THEN the blob bucket logs to it under spool-blobs/, and AwsSolutions-S1 is not acknowledged', () => {
    const stack = new Stack(new App(), 'Test');
    // Bucket is IBucket at run time; under exactOptionalPropertyTypes its optional members are not (as for Table).
    const logs = new s3.Bucket(stack, 'AccessLogs') as unknown as s3.IBucket;
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, blobAccessLogsBucket: logs });
    acknowledgeTaskQueueFindings(tasks);
    const bucketId = stack.getLogicalId(tasks.bucket.node.defaultChild as CfnElement);
    const props = Template.fromStack(stack).toJSON().Resources[bucketId].Properties;
    expect(props.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: stack.getLogicalId(logs.node.defaultChild as CfnElement) },
      LogFilePrefix: 'spool-blobs/',
    });
    const acknowledged = tasks.bucket.node.metadata.filter(
      (m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
    );
    expect(acknowledged).toEqual([]);
  });
});

describe('GIVEN a TaskQueue with a customer managed key', () => {
  const withKey = () => {
    const stack = new Stack(new App(), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key });
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'] };
    return { stack, tasks, producer, keyArn };
  };

  it('WHEN a producer is granted grantEnqueue THEN it may also use the key, for its send, its lock writes and state reads and its argument blobs, each through that service only', () => {
    const { stack, tasks, producer, keyArn } = withKey();
    tasks.grantEnqueue(producer);
    const key = statementsOf(stack, producer).filter((s) => s.actions.some((a) => a.startsWith('kms:')));
    expect(key).toEqual(
      sorted([
        viaService(keyArn, ['kms:Decrypt', 'kms:GenerateDataKey'], 'sqs'),
        viaService(keyArn, ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], 'dynamodb'),
        viaService(keyArn, ['kms:GenerateDataKey'], 's3'),
      ]),
    );
  });

  it('THEN the blob bucket is encrypted with the key (with an S3 bucket key)', () => {
    const { stack, tasks, keyArn } = withKey();
    const bucketId = stack.getLogicalId(tasks.bucket.node.defaultChild as CfnElement);
    const props = Template.fromStack(stack).toJSON().Resources[bucketId].Properties;
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } },
    ]);
  });

  it('WHEN a reader is granted grantReadResults THEN it may only decrypt with the key, through DynamoDB and S3 only', () => {
    const { stack, tasks, producer, keyArn } = withKey();
    tasks.grantReadResults(producer);
    const statements = statementsOf(stack, producer);
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('kms:')))).toEqual(
      sorted([
        viaService(keyArn, ['kms:Decrypt', 'kms:DescribeKey'], 'dynamodb'),
        viaService(keyArn, ['kms:Decrypt'], 's3'),
      ]),
    );
    expect(statements).toHaveLength(4); // GetItem, GetObject, the key twice
  });

  it('WHEN a canceller is granted grantCancel THEN it may also use the key for its writes, through DynamoDB only', () => {
    const { stack, tasks, producer, keyArn } = withKey();
    tasks.grantCancel(producer);
    const statements = statementsOf(stack, producer);
    expect(statements).toContainEqual(
      viaService(keyArn, ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], 'dynamodb'),
    );
    expect(statements).toHaveLength(4); // UpdateItem, DeleteItem, DeleteSchedule, the key
  });

  it("THEN the worker's role may use the key for receiving and sending, records and locks, and blobs, each through that service only", () => {
    const { stack, tasks, keyArn } = withKey();
    const statements = statementsOf(stack, tasks.workerRole);
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('kms:')))).toEqual(
      sorted([
        viaService(keyArn, ['kms:Decrypt', 'kms:GenerateDataKey'], 'sqs'),
        viaService(keyArn, ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], 'dynamodb'),
        viaService(keyArn, ['kms:Decrypt', 'kms:GenerateDataKey'], 's3'),
      ]),
    );
    expect(statements.flatMap((s) => s.actions).filter((a) => a.includes('*'))).toEqual([]);
  });
});

/** The task queue `orders` of account 111122223333 in eu-west-1, referenced by its attributes. */
function referenced(stack: Stack, more: Partial<TaskQueueAttributes> = {}) {
  return TaskQueue.fromTaskQueueAttributes(stack, 'Tasks', {
    queueArn: 'arn:aws:sqs:eu-west-1:111122223333:orders.fifo',
    deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:111122223333:orders-dlq.fifo',
    tableName: 'orders-tasks',
    ...more,
  });
}

describe('GIVEN a task queue referenced by its attributes', () => {
  it('WHEN a producer is granted and bound THEN the grants name the referenced queue and table', () => {
    const stack = new Stack(new App(), 'Producers');
    const tasks = referenced(stack);
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    tasks.grantEnqueue(producer);
    tasks.grantReadResults(producer);
    const statements = statementsOf(stack, producer);
    expect(statements).toContainEqual({
      actions: ['sqs:SendMessage'],
      resources: ['arn:aws:sqs:eu-west-1:111122223333:orders.fifo'],
    });
    expect(JSON.stringify(statements)).toContain(':table/orders-tasks');
    expect(statements.every((s) => !s.actions.some((a) => a.startsWith('sqs:Receive')))).toBe(true);
    expect(tasks.environment.SPOOL_TABLE).toBe('orders-tasks');
  });

  it('WHEN a canceller is granted grantCancel THEN it may update and delete on the referenced table, and without a scheduler touches no schedule', () => {
    const stack = new Stack(new App(), 'Producers', { env: { account: '111122223333', region: 'eu-west-1' } });
    const tasks = referenced(stack);
    const canceller = new iam.Role(stack, 'Canceller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    tasks.grantCancel(canceller);
    const table = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':dynamodb:eu-west-1:111122223333:table/orders-tasks']],
    };
    expect(statementsOf(stack, canceller)).toEqual(
      sorted([
        { actions: ['dynamodb:UpdateItem'], resources: [table], condition: leadingKeys('task#*') },
        { actions: ['dynamodb:DeleteItem'], resources: [table], condition: leadingKeys('task#*', 'lock#unique#*') },
      ]),
    );
  });

  it('WHEN it has a scheduler and a canceller is granted grantCancel THEN it may also delete delay.* timers of that group', () => {
    const stack = new Stack(new App(), 'Producers', { env: { account: '111122223333', region: 'eu-west-1' } });
    const tasks = referenced(stack, {
      scheduler: { groupName: 'spool-orders', roleArn: 'arn:aws:iam::111122223333:role/spool-scheduler' },
    });
    const canceller = new iam.Role(stack, 'Canceller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    tasks.grantCancel(canceller);
    expect(statementsOf(stack, canceller)).toContainEqual(
      cancelTimerStatement('spool-orders', { region: 'eu-west-1', account: '111122223333' }),
    );
    expect(statementsOf(stack, canceller).flatMap((s) => s.actions)).not.toContain('iam:PassRole');
  });
});
