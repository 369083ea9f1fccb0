/**
 * One layout, two builders: what `provisionResources` creates on the endpoint and what the
 * `TaskQueue` construct synthesizes must be the same queues and table, setting for setting.
 */

import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SPOOL_LAYOUT } from 'spool-tasks/aws';
import { TaskQueue } from 'spool-tasks/cdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshAwsBackend } from './resources.js';

type Fresh = Awaited<ReturnType<typeof freshAwsBackend>>;
type Props = Record<string, unknown>;

function synthesized() {
  const stack = new Stack(new App(), 'Layout');
  const tasks = new TaskQueue(stack, 'Tasks', {
    workerCode: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Properties: Props }> };
  const props = (construct: { node: { defaultChild?: unknown } }) => {
    const id = stack.getLogicalId(construct.node.defaultChild as CfnElement);
    const resource = template.Resources[id];
    if (resource === undefined) throw new Error(`no resource ${id} in the template`);
    return resource.Properties;
  };
  return {
    queue: props(tasks.queue),
    deadLetterQueue: props(tasks.deadLetterQueue),
    table: props(tasks.table),
    bucket: props(tasks.bucket),
  };
}

/** SQS attributes as the API returns them (strings), as the template's typed values. */
const asTemplate = (value: string | undefined) => (value === 'true' ? true : value === 'false' ? false : Number(value));

describe('GIVEN resources made by provisionResources and a synthesized TaskQueue', () => {
  let fresh: Fresh;
  let queue: Record<string, string>;
  let dlq: Record<string, string>;
  let table: Props;
  let ttlAttribute: string | undefined;
  const cdk = synthesized();

  beforeAll(async () => {
    fresh = await freshAwsBackend();
    const { sqs, dynamodb } = fresh.backend.clients;
    const attributes = async (url: string) =>
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
    queue = await attributes(fresh.resources.queueUrl);
    dlq = await attributes(fresh.resources.deadLetterQueueUrl);
    table = ((await dynamodb.send(new DescribeTableCommand({ TableName: fresh.resources.tableName }))).Table ??
      {}) as Props;
    ttlAttribute = (await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: fresh.resources.tableName })))
      .TimeToLiveDescription?.AttributeName;
  });
  afterAll(async () => fresh?.backend.close());

  it('THEN both blob buckets block public access, are encrypted with S3-managed keys, and expire each retention class after its days', async () => {
    const s3 = fresh.backend.clients.s3;
    const bucket = fresh.resources.bucketName;
    if (s3 === undefined || bucket === undefined) throw new Error('no blob bucket was provisioned');
    const lifecycle = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    const provisioned = (lifecycle.Rules ?? []).map((r) => [r.Filter?.Prefix ?? r.Prefix, r.Expiration?.Days]);
    const cdkRules = (cdk.bucket.LifecycleConfiguration as { Rules: { Prefix?: string; ExpirationInDays?: number }[] })
      .Rules;
    const synthesizedRules = cdkRules.filter((r) => r.Prefix !== undefined).map((r) => [r.Prefix, r.ExpirationInDays]);
    expect(provisioned).toEqual(synthesizedRules);
    expect(synthesizedRules).toHaveLength(SPOOL_LAYOUT.bucket.retentionClassesDays.length);
    const publicAccess = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
    expect(publicAccess.PublicAccessBlockConfiguration).toEqual(cdk.bucket.PublicAccessBlockConfiguration);
    const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    expect(
      encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
    expect(cdk.bucket.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('THEN both task queues have the FIFO, deduplication, throughput, size and encryption settings of the layout', () => {
    for (const key of [
      'FifoQueue',
      'ContentBasedDeduplication',
      'DeduplicationScope',
      'FifoThroughputLimit',
      'MaximumMessageSize',
      'SqsManagedSseEnabled',
    ]) {
      const provisioned = ['DeduplicationScope', 'FifoThroughputLimit'].includes(key)
        ? queue[key]
        : asTemplate(queue[key]);
      expect({ [key]: provisioned }).toEqual({ [key]: cdk.queue[key] });
    }
    expect(cdk.queue.DeduplicationScope).toBe(SPOOL_LAYOUT.queue.deduplicationScope);
  });

  it('THEN both redrive to their dead-letter queue after the layout’s maxReceiveCount', () => {
    const provisioned = JSON.parse(queue.RedrivePolicy ?? '{}') as { maxReceiveCount: number };
    expect(Number(provisioned.maxReceiveCount)).toBe(SPOOL_LAYOUT.queue.maxReceiveCount);
    expect((cdk.queue.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount).toBe(
      SPOOL_LAYOUT.queue.maxReceiveCount,
    );
  });

  it('THEN the queues’ visibility timeouts differ only as designed: 30 s provisioned, 6 × the worker timeout deployed', () => {
    expect(Number(queue.VisibilityTimeout)).toBe(SPOOL_LAYOUT.queue.visibilityTimeoutSeconds);
    expect(cdk.queue.VisibilityTimeout).toBe(360);
  });

  it('THEN both dead-letter queues are FIFO, high-throughput, encrypted and keep messages the layout’s 14 days', () => {
    for (const key of ['FifoQueue', 'DeduplicationScope', 'FifoThroughputLimit', 'SqsManagedSseEnabled']) {
      const provisioned = ['DeduplicationScope', 'FifoThroughputLimit'].includes(key) ? dlq[key] : asTemplate(dlq[key]);
      expect({ [key]: provisioned }).toEqual({ [key]: cdk.deadLetterQueue[key] });
    }
    expect(Number(dlq.MessageRetentionPeriod)).toBe(SPOOL_LAYOUT.deadLetterQueue.retentionSeconds);
    expect(cdk.deadLetterQueue.MessageRetentionPeriod).toBe(SPOOL_LAYOUT.deadLetterQueue.retentionSeconds);
  });

  it('THEN both tables have the same key, attribute types, index, billing and TTL attribute', () => {
    const sortByName = (defs: unknown) =>
      [...(defs as { AttributeName: string }[])].sort((a, b) => a.AttributeName.localeCompare(b.AttributeName));
    expect(sortByName(table.AttributeDefinitions)).toEqual(sortByName(cdk.table.AttributeDefinitions));
    expect(table.KeySchema).toEqual(cdk.table.KeySchema);
    const index = (table.GlobalSecondaryIndexes as Props[]).map((i) => ({
      IndexName: i.IndexName,
      KeySchema: i.KeySchema,
      Projection: { ProjectionType: (i.Projection as Props).ProjectionType },
    }));
    expect(index).toEqual(cdk.table.GlobalSecondaryIndexes);
    expect((table.BillingModeSummary as Props | undefined)?.BillingMode ?? 'PAY_PER_REQUEST').toBe(
      cdk.table.BillingMode,
    );
    expect(ttlAttribute).toBe(SPOOL_LAYOUT.table.ttlAttribute);
    expect(cdk.table.TimeToLiveSpecification).toEqual({
      AttributeName: SPOOL_LAYOUT.table.ttlAttribute,
      Enabled: true,
    });
    expect(cdk.table.SSESpecification).toEqual({ SSEEnabled: true });
  });
});
