import { ConfigurationError, createSpool, defineTask, SpoolError, silentLogger } from 'spool-tasks';
import { openAwsBackend, resolveAwsConfig } from 'spool-tasks/aws';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

describe('AWS backend configuration', () => {
  it('GIVEN nothing configured THEN the error names every missing setting and how to set it', () => {
    const attempt = () => resolveAwsConfig({}, {});
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(
      /queueUrl is missing: the URL of the task queue .*Set SPOOL_QUEUE_URL in the environment, or pass \{ queueUrl \}/,
    );
    expect(attempt).toThrow(/deadLetterQueueUrl is missing.*SPOOL_DLQ_URL/);
    expect(attempt).toThrow(/tableName is missing.*SPOOL_TABLE/);
    expect(attempt).toThrow(/region is missing.*AWS_REGION or AWS_DEFAULT_REGION/);
  });

  it('GIVEN a standard (non-FIFO) queue URL THEN the error shows the value and what is needed', () => {
    expect(() =>
      resolveAwsConfig(
        {},
        {
          SPOOL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/jobs',
          SPOOL_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/jobs-dlq.fifo',
          SPOOL_TABLE: 't',
          AWS_REGION: 'us-east-1',
        },
      ),
    ).toThrow(/queueUrl is "https:\/\/sqs\.us-east-1\.amazonaws\.com\/1\/jobs": spool needs an SQS FIFO queue URL/);
  });

  it('GIVEN options and environment THEN options win and the endpoint comes from AWS_ENDPOINT_URL', () => {
    const config = resolveAwsConfig(
      { tableName: 'from-options' },
      {
        SPOOL_QUEUE_URL: 'http://127.0.0.1:4566/000000000000/q.fifo',
        SPOOL_DLQ_URL: 'http://127.0.0.1:4566/000000000000/q-dlq.fifo',
        SPOOL_TABLE: 'from-env',
        AWS_DEFAULT_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      },
    );
    expect(config).toEqual({
      queueUrl: 'http://127.0.0.1:4566/000000000000/q.fifo',
      deadLetterQueueUrl: 'http://127.0.0.1:4566/000000000000/q-dlq.fifo',
      tableName: 'from-options',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
    });
  });

  it('GIVEN SPOOL_BUCKET THEN the backend has a blob store; an invalid bucket name is explained; without one, large arguments are refused with how to fix it', async () => {
    const env = {
      SPOOL_QUEUE_URL: 'http://127.0.0.1:9/000000000000/q.fifo',
      SPOOL_DLQ_URL: 'http://127.0.0.1:9/000000000000/q-dlq.fifo',
      SPOOL_TABLE: 't',
      AWS_REGION: 'us-east-1',
    };
    expect(resolveAwsConfig({}, { ...env, SPOOL_BUCKET: 'myapp-blobs' }).bucketName).toBe('myapp-blobs');
    expect(resolveAwsConfig({ bucketName: 'other-blobs' }, { ...env, SPOOL_BUCKET: 'myapp-blobs' }).bucketName).toBe(
      'other-blobs',
    );
    expect(() => resolveAwsConfig({}, { ...env, SPOOL_BUCKET: 'My_Bucket' })).toThrow(
      /bucketName is "My_Bucket": an S3 bucket name is 3–63 characters of lowercase letters/,
    );
    const where = {
      queueUrl: env.SPOOL_QUEUE_URL,
      deadLetterQueueUrl: env.SPOOL_DLQ_URL,
      tableName: env.SPOOL_TABLE,
      region: env.AWS_REGION,
      endpoint: 'http://127.0.0.1:9',
    };
    const withBucket = openAwsBackend({ ...where, bucketName: 'myapp-blobs' });
    expect(withBucket.store.blobs).toBeDefined();
    withBucket.close();
    const without = openAwsBackend(where);
    expect(without.store.blobs).toBeUndefined();
    const big = defineTask({ name: 'big', schema: z.object({ s: z.string() }), handler: () => 1 });
    const spool = createSpool({ backend: without, tasks: [big], logger: silentLogger });
    await expect(spool.enqueue(big, { s: 'x'.repeat(1_100_000) })).rejects.toThrow(
      /the message is 1100\d+ bytes; the limit is 1048576 bytes .*no blob store for larger arguments \(on AWS, set SPOOL_BUCKET/,
    );
    await spool.close();
  });

  it('GIVEN an endpoint nothing listens on WHEN enqueueing THEN the error says which service, where, and what to check; nothing is lost', async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const backend = openAwsBackend({
      queueUrl: 'http://127.0.0.1:9/000000000000/q.fifo',
      deadLetterQueueUrl: 'http://127.0.0.1:9/000000000000/q-dlq.fifo',
      tableName: 't',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
    });
    const t = defineTask({ name: 't', schema: z.object({}), handler: () => 1 });
    const spool = createSpool({ backend, tasks: [t], logger: silentLogger });
    const error = await spool.enqueue(t, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolError);
    expect((error as Error).message).toMatch(
      /cannot reach SQS at http:\/\/127\.0\.0\.1:9 \(SendMessageBatchCommand: .*Is the local endpoint running\?/,
    );
    await spool.close();
  });
});
