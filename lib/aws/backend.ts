/**
 * The AWS backend: an SQS FIFO task queue and its dead-letter queue, and a DynamoDB table of task
 * records. The only part of spool that talks to AWS (with `lib/aws/*`).
 *
 * @example
 * ```ts
 * // SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE and AWS_REGION set (the CDK construct sets them):
 * const spool = createSpool({ backend: openAwsBackend(), tasks });
 * ```
 *
 * @module
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Backend } from '../backend/backend.js';
import { type AwsBackendConfig, type ResolvedAwsConfig, resolveAwsConfig } from './config.js';
import { DynamoStore } from './dynamo-store.js';
import { SqsQueue } from './sqs-queue.js';

/** Options of {@link openAwsBackend}: where the resources are, plus clients and clock. */
export interface AwsBackendOptions extends AwsBackendConfig {
  /** Use these clients instead of creating them (their region and endpoint win). */
  readonly clients?: { readonly sqs: SQSClient; readonly dynamodb: DynamoDBClient };
  /** Clock for reads, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** An open AWS backend. */
export interface AwsBackend extends Backend {
  readonly config: ResolvedAwsConfig;
  readonly clients: { readonly sqs: SQSClient; readonly dynamodb: DynamoDBClient };
}

/** Open the AWS backend. Throws a `ConfigurationError` naming every missing setting. */
export function openAwsBackend(options: AwsBackendOptions = {}): AwsBackend {
  const config = resolveAwsConfig(options);
  const clients = options.clients ?? createClients(config);
  const documents = DynamoDBDocumentClient.from(clients.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const owned = options.clients === undefined;
  return {
    config,
    clients,
    transport: {
      tasks: new SqsQueue(clients.sqs, config.queueUrl),
      deadLetters: new SqsQueue(clients.sqs, config.deadLetterQueueUrl),
    },
    store: new DynamoStore(documents, config.tableName, options.now),
    close() {
      if (owned) {
        clients.sqs.destroy();
        clients.dynamodb.destroy();
      }
    },
  };
}

/** SDK clients for a configuration. An endpoint is passed explicitly (see shared notes on SQS). */
export function createClients(config: Pick<ResolvedAwsConfig, 'region' | 'endpoint'>) {
  const common = { region: config.region, ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }) };
  return { sqs: new SQSClient(common), dynamodb: new DynamoDBClient(common) };
}
