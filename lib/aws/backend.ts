/**
 * The AWS backend: an SQS FIFO task queue and its dead-letter queue, and a DynamoDB table of task
 * records. The only part of spool that talks to AWS (with `lib/aws/*`).
 *
 * @example
 * ```ts
 * // SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE, SPOOL_BUCKET and AWS_REGION set (the CDK construct sets them):
 * const spool = createSpool({ backend: openAwsBackend(), tasks });
 * ```
 *
 * @module
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Backend, PortableBackend } from '../backend/backend.js';
import { SpoolError } from '../task/errors.js';
import { type AwsBackendConfig, queueArnOf, type ResolvedAwsConfig, resolveAwsConfig } from './config.js';
import { DynamoStore } from './dynamo-store.js';
import { S3BlobStore } from './s3-blobs.js';
import { EventBridgeScheduler } from './scheduler.js';
import { SqsQueue } from './sqs-queue.js';

/** Options of {@link openAwsBackend}: where the resources are, plus clients and clock. */
export interface AwsBackendOptions extends AwsBackendConfig {
  /** Use these clients instead of creating them (their region and endpoint win). */
  readonly clients?: AwsClients;
  /** Clock of the store's reads and of the queues' receive times and 12-hour checks, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** The SDK clients the AWS backend uses. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly scheduler: SchedulerClient;
  /**
   * For the blob bucket (`bucketName`). Clients passed without one get one made from the
   * configuration (and destroyed by `close`).
   */
  readonly s3?: S3Client;
}

/** An open AWS backend. */
export interface AwsBackend extends Backend {
  readonly config: ResolvedAwsConfig;
  readonly clients: AwsClients;
  /**
   * How another thread opens the same backend: `openAwsBackend` with the resolved configuration
   * (its own clients, from the same settings and the SDK's default credential chain). Absent when
   * the caller passed its own `clients` (their credentials, middleware or HTTP handler cannot
   * cross threads) or a custom `now`.
   */
  readonly portable?: PortableBackend;
}

/** Open the AWS backend. Throws a `ConfigurationError` naming every missing setting. */
export function openAwsBackend(options: AwsBackendOptions = {}): AwsBackend {
  const config = resolveAwsConfig(options);
  const clients = options.clients ?? createClients(config);
  const documents = DynamoDBDocumentClient.from(clients.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const owned = options.clients === undefined;
  const portable = owned && options.now === undefined ? portableRecipe(config) : undefined;
  const ownS3 = config.bucketName !== undefined && clients.s3 === undefined ? createS3Client(config) : undefined;
  const s3 = clients.s3 ?? ownS3;
  const blobs =
    config.bucketName === undefined || s3 === undefined ? undefined : new S3BlobStore(s3, config.bucketName);
  return {
    config,
    clients,
    ...(portable === undefined ? {} : { portable }),
    transport: {
      tasks: new SqsQueue(clients.sqs, config.queueUrl, options.now),
      deadLetters: new SqsQueue(clients.sqs, config.deadLetterQueueUrl, options.now),
    },
    store: new DynamoStore(documents, config.tableName, options.now, blobs),
    ...(config.scheduler === undefined
      ? {}
      : {
          scheduler: new EventBridgeScheduler(clients.scheduler, config.scheduler.group, {
            queueArn: queueArnOf(config.queueUrl, config.region),
            roleArn: config.scheduler.roleArn,
          }),
        }),
    close() {
      if (owned) {
        clients.sqs.destroy();
        clients.dynamodb.destroy();
        clients.scheduler.destroy();
        clients.s3?.destroy();
      }
      ownS3?.destroy();
    },
  };
}

/** The {@link PortableBackend} of an AWS backend with its own clients: the resolved settings, explicitly. */
function portableRecipe(config: ResolvedAwsConfig): PortableBackend {
  const options: AwsBackendConfig = {
    queueUrl: config.queueUrl,
    deadLetterQueueUrl: config.deadLetterQueueUrl,
    tableName: config.tableName,
    ...(config.bucketName === undefined ? {} : { bucketName: config.bucketName }),
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.scheduler === undefined
      ? {}
      : { scheduleGroup: config.scheduler.group, schedulerRoleArn: config.scheduler.roleArn }),
  };
  // The package's entry point, not this file's URL: a bundled Lambda (CommonJS, where
  // `import.meta` does not exist) includes this module too, and never starts a keeper thread.
  return { module: 'spool-tasks/aws', exportName: 'openAwsBackend', options };
}

/**
 * SDK clients for a configuration. An endpoint is passed explicitly: the SQS client otherwise
 * sends to the queue URL's host, ignoring AWS_ENDPOINT_URL. Network failures (after the SDK's own
 * retries) become a {@link SpoolError} naming the service, the endpoint and what to check.
 */
export function createClients(
  config: Pick<ResolvedAwsConfig, 'region' | 'endpoint'> & {
    /** Static credentials (a local endpoint takes any); default: the SDK's credential chain. */
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  },
): AwsClients {
  const common = {
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  };
  const clients = {
    sqs: new SQSClient(common),
    dynamodb: new DynamoDBClient(common),
    scheduler: new SchedulerClient(common),
    s3: createS3Client(config),
  };
  explainNetworkErrors(clients.sqs, 'SQS', config);
  explainNetworkErrors(clients.dynamodb, 'DynamoDB', config);
  explainNetworkErrors(clients.scheduler, 'EventBridge Scheduler', config);
  return clients;
}

/**
 * An S3 client for a configuration. With an endpoint (LocalStack, ministack) it addresses buckets
 * by path (`<endpoint>/<bucket>/<key>`), as local endpoints need no virtual-host DNS then.
 */
function createS3Client(
  config: Pick<ResolvedAwsConfig, 'region' | 'endpoint'> & {
    readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  },
): S3Client {
  const s3 = new S3Client({
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint, forcePathStyle: true }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  });
  explainNetworkErrors(s3, 'S3', config);
  return s3;
}

const NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket hang up|TimeoutError/;

function explainNetworkErrors(
  client: SQSClient | DynamoDBClient | SchedulerClient | S3Client,
  service: string,
  config: Pick<ResolvedAwsConfig, 'region' | 'endpoint'>,
): void {
  const stack = client.middlewareStack as {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const code =
          error instanceof Error ? `${(error as { code?: string }).code ?? ''} ${error.name} ${error.message}` : '';
        if (!NETWORK.test(code) || (error instanceof Error && error.name === 'AbortError')) throw error;
        const where = config.endpoint ?? `AWS's ${service} endpoint in ${config.region}`;
        throw new SpoolError(
          `cannot reach ${service} at ${where} (${context.commandName ?? 'request'}: ${(error as Error).message}). ` +
            (config.endpoint === undefined
              ? 'Check the network and the region (AWS_REGION).'
              : 'Is the local endpoint running? Start it with `spool local start` (ministack; `npm run local:up` in the spool repository), or fix AWS_ENDPOINT_URL.'),
          { code: 'BACKEND_UNREACHABLE', cause: error },
        );
      }
    },
    { step: 'initialize', name: 'spoolExplainNetworkErrors' },
  );
}
