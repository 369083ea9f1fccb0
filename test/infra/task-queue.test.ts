/**
 * The TaskQueue construct's resources: queues, table, worker, event source, alarms, dashboard.
 * The worker's code is inline here (no esbuild run per test); app.test.ts bundles for real.
 */

import { App, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { TaskQueue, type TaskQueueProps } from 'spool-tasks/cdk';
import { describe, expect, it } from 'vitest';

const INLINE = lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });');

function synth(props: TaskQueueProps = {}) {
  const stack = new Stack(new App(), 'Test');
  const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, ...props });
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as CfnElement);
  return { stack, tasks, template: Template.fromStack(stack), id };
}

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

interface Widget {
  readonly type: string;
  readonly properties: {
    readonly metrics?: (string | { readonly expression?: string; readonly label?: string })[][];
    readonly alarms?: string[];
  };
}

/** The dashboard's body as JSON, its tokens (ARNs, names) replaced by "<token>". */
function dashboardBody(template: Template): { widgets: Widget[] } {
  const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
  const parts: unknown[] = dashboard?.Properties.DashboardBody['Fn::Join'][1] ?? [];
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : '<token>')).join(''));
}

describe('GIVEN a TaskQueue with default props', () => {
  const { tasks, template, id } = synth();

  it('THEN the task queue is FIFO in high-throughput mode with content-based deduplication, SQS-encrypted, with 1 MiB messages', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      RedrivePolicy: Match.anyValue(),
    });
  });

  it('THEN the dead-letter queue is FIFO, high-throughput, SQS-encrypted, and keeps messages 14 days', () => {
    const dlq = template.toJSON().Resources[id(tasks.deadLetterQueue)].Properties;
    expect(dlq).toEqual({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('THEN both queues deny every request that is not over TLS', () => {
    for (const queue of [tasks.queue, tasks.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id(queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Resource: arnOf(id(queue)),
            }),
          ]),
        },
      });
    }
  });

  it('THEN the task queue redrives to the dead-letter queue after 100 receives', () => {
    const queue = template.toJSON().Resources[id(tasks.queue)].Properties;
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(id(tasks.deadLetterQueue)),
      maxReceiveCount: 100,
    });
  });

  it('THEN the visibility timeout is six times the worker timeout (6 × 60 s)', () => {
    expect(template.toJSON().Resources[id(tasks.queue)].Properties.VisibilityTimeout).toBe(360);
  });

  it('THEN the table is laid out as lib/aws/provision.ts lays it out, on-demand, with PITR and KMS encryption', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: Match.arrayEquals([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'gsiState', AttributeType: 'S' },
          { AttributeName: 'updatedAt', AttributeType: 'N' },
        ]),
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byState',
            KeySchema: [
              { AttributeName: 'gsiState', KeyType: 'HASH' },
              { AttributeName: 'updatedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // SSEEnabled without SSEType: KMS with the AWS managed key aws/dynamodb.
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('THEN the worker runs Node.js 24 on arm64 with X-Ray, 60 s timeout, and the SPOOL_* environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 60,
      MemorySize: 512,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: id(tasks.workerLogGroup) } },
    });
    const fn = template.toJSON().Resources[id(tasks.worker)].Properties;
    expect(fn.Environment.Variables).toEqual({
      SPOOL_QUEUE_URL: { Ref: id(tasks.queue) },
      SPOOL_DLQ_URL: { Ref: id(tasks.deadLetterQueue) },
      SPOOL_TABLE: { Ref: id(tasks.node.findChild('Table')) },
      SPOOL_BUCKET: { Ref: id(tasks.bucket) },
      SPOOL_SCHEDULE_GROUP: { Ref: Stack.of(tasks).getLogicalId(tasks.scheduling.group) },
      SPOOL_SCHEDULER_ROLE_ARN: arnOf(id(tasks.scheduling.role)),
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('THEN the event source takes batches of 10, reports item failures, caps concurrency at 10, and has no batching window', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const mapping = template.findResources('AWS::Lambda::EventSourceMapping');
    const props = Object.values(mapping)[0]?.Properties;
    expect(props).toEqual({
      EventSourceArn: arnOf(id(tasks.queue)),
      FunctionName: { Ref: id(tasks.worker) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('THEN an alarm fires when the dead-letter queue holds a message', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(tasks.deadLetterQueue), 'QueueName'] } }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
  });

  it('THEN an alarm fires when the oldest message is older than 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(tasks.queue), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 300,
    });
  });

  it.each(['Errors', 'Throttles'])('THEN an alarm fires on any worker %s', (metric) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: metric,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(tasks.worker) } }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  it('THEN the alarms have no actions', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });

  it("THEN a dashboard shows the queues, the worker, and spool's per-task metrics by SEARCH", () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = dashboardBody(template);
    const metricNames = body.widgets.flatMap((w) =>
      (w.properties.metrics ?? []).map((m) =>
        m.find(
          (x) =>
            typeof x === 'string' && x !== 'AWS/SQS' && x !== 'AWS/Lambda' && x !== 'QueueName' && x !== 'FunctionName',
        ),
      ),
    );
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateAgeOfOldestMessage',
      'Invocations',
      'Errors',
      'Duration',
      'Throttles',
      'ConcurrentExecutions',
    ]) {
      expect(metricNames).toContain(metric);
    }
    const expressions = body.widgets.flatMap((w) =>
      (w.properties.metrics ?? []).flatMap((m) =>
        m.flatMap((x) => (typeof x === 'object' && x.expression !== undefined ? [x.expression] : [])),
      ),
    );
    expect(expressions).toEqual(
      ['AttemptSucceeded', 'AttemptRetried', 'AttemptFailed', 'AttemptDuration'].map(
        (metric) =>
          `SEARCH('{spool,service,task} service="spool-worker" MetricName="${metric}"', '${metric === 'AttemptDuration' ? 'p99' : 'Sum'}', 300)`,
      ),
    );
    expect(body.widgets.some((w) => w.type === 'alarm' && w.properties.alarms?.length === 4)).toBe(true);
  });
});

describe('GIVEN a TaskQueue with tuned props', () => {
  const topic = (stack: Stack) => new sns.Topic(stack, 'Ops', { enforceSSL: true });

  it('WHEN maxReceiveCount, batchSize and maxConcurrency are set THEN the redrive and the event source use them', () => {
    const { template, tasks, id } = synth({ maxReceiveCount: 5, batchSize: 1, maxConcurrency: 1000 });
    expect(template.toJSON().Resources[id(tasks.queue)].Properties.RedrivePolicy.maxReceiveCount).toBe(5);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 1000 },
    });
  });

  it('WHEN workerTimeout is 2 minutes THEN the visibility timeout follows at 12 minutes', () => {
    const { template, tasks, id } = synth({ workerTimeout: Duration.minutes(2) });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 120 });
    expect(template.toJSON().Resources[id(tasks.queue)].Properties.VisibilityTimeout).toBe(720);
  });

  it('WHEN visibilityTimeout is given THEN it is used as is', () => {
    const { template, tasks, id } = synth({ visibilityTimeout: Duration.seconds(90) });
    expect(template.toJSON().Resources[id(tasks.queue)].Properties.VisibilityTimeout).toBe(90);
  });

  it('WHEN reservedConcurrency, memory and runtime are set THEN the worker uses them', () => {
    const { template } = synth({
      reservedConcurrency: 20,
      workerMemorySizeMiB: 1024,
      runtime: lambda.Runtime.NODEJS_24_X,
      workerEnvironment: { APP_MODE: 'prod' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 20,
      MemorySize: 1024,
      Runtime: 'nodejs24.x',
      Environment: { Variables: Match.objectLike({ APP_MODE: 'prod', NODE_OPTIONS: '--enable-source-maps' }) },
    });
  });

  it('WHEN removalPolicy is DESTROY THEN the table is deleted with the stack and has no deletion protection', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('WHEN an alarm topic is given THEN every alarm notifies it on alarm and on OK', () => {
    const stack = new Stack(new App(), 'Test');
    const ops = topic(stack);
    new TaskQueue(stack, 'Tasks', { workerCode: INLINE, alarmTopic: ops });
    const template = Template.fromStack(stack);
    const ref = { Ref: stack.getLogicalId(ops.node.defaultChild as CfnElement) };
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([ref]);
      expect(alarm.Properties.OKActions).toEqual([ref]);
    }
  });

  it('WHEN oldestMessageAgeAlarmThreshold and dashboardName are set THEN the alarm and the dashboard use them', () => {
    const { template } = synth({
      oldestMessageAgeAlarmThreshold: Duration.minutes(15),
      dashboardName: 'spool-orders',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 900,
    });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'spool-orders' });
  });

  it('WHEN a customer managed key is given THEN both queues and the table are encrypted with it', () => {
    const stack = new Stack(new App(), 'Test');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const tasks = new TaskQueue(stack, 'Tasks', { workerCode: INLINE, encryptionKey: key });
    const template = Template.fromStack(stack);
    const keyArn = arnOf(stack.getLogicalId(key.node.defaultChild as CfnElement));
    for (const queue of [tasks.queue, tasks.deadLetterQueue]) {
      const props = template.toJSON().Resources[stack.getLogicalId(queue.node.defaultChild as CfnElement)].Properties;
      expect(props.KmsMasterKeyId).toEqual(keyArn);
      expect(props.SqsManagedSseEnabled).toBeUndefined();
    }
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
    });
  });
});

describe('GIVEN the worker logging settings', () => {
  it('THEN by default the worker logs JSON, without platform START/END/REPORT lines (system WARN), application INFO', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('spool worker'),
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', SystemLogLevel: 'WARN', ApplicationLogLevel: 'INFO' }),
    });
  });

  it('WHEN workerSystemLogLevel is INFO THEN the REPORT lines come back', () => {
    const { template } = synth({ workerSystemLogLevel: lambda.SystemLogLevel.INFO });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', SystemLogLevel: 'INFO' }),
    });
  });
});
