/**
 * Request accounting: SDK middleware that counts requests per service and operation, and the
 * DynamoDB capacity units they consume, to turn a workload into a bill.
 *
 * DynamoDB reports `ConsumedCapacity` when asked (`ReturnConsumedCapacity: 'TOTAL'`, which the
 * store always sets). A conditional write that fails reports nothing but is billed: it is counted
 * as 1 write unit (its minimum).
 *
 * @module
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** List prices, us-east-1, USD per million (see shared/guide/aws-notes.md). */
export const PRICES = {
  sqsFifoRequest: 0.5,
  dynamoWriteUnit: 0.625,
  dynamoReadUnit: 0.125,
  lambdaInvocation: 0.2,
  /** CloudWatch Logs ingestion (Standard class; Lambda's vended-log tiers start at this), per GB. */
  logIngestionPerGB: 0.5,
} as const;

/**
 * Bytes in a GB as CloudWatch Logs bills it. 10^9 here, which is the higher bill (AWS invoices
 * 2^30-byte GB, 7% fewer).
 */
export const BYTES_PER_GB = 1e9;

const REQUEST_ID = '8f5b7b8e-1c3a-4b8a-9d1e-2f3a4b5c6d7e';
const TRACE = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';
const TRACING = `"tracing":{"spanId":"53995c3f42cd8ad8","type":"X-Amzn-Trace-Id","value":"${TRACE}"}`;

/**
 * Lambda's platform lines of one invocation, as CloudWatch receives them (the shapes AWS documents,
 * with active tracing as the TaskQueue construct sets it), by log format and system log level. At
 * system level WARN there are none: START, END and REPORT (`platform.start`, `platform.report`) are
 * INFO, `platform.runtimeDone` DEBUG.
 */
export const LAMBDA_PLATFORM_LINES = {
  text: [
    `START RequestId: ${REQUEST_ID} Version: $LATEST\n`,
    `END RequestId: ${REQUEST_ID}\n`,
    `REPORT RequestId: ${REQUEST_ID}\tDuration: 41.52 ms\tBilled Duration: 42 ms\tMemory Size: 512 MB\tMax Memory Used: 96 MB\t\n` +
      'XRAY TraceId: 1-67891233-abcdef012345678912345678\tSegmentId: 53995c3f42cd8ad8\tSampled: true\t\n',
  ],
  json: [
    `{"time":"2026-12-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"${REQUEST_ID}","version":"$LATEST",${TRACING}}}\n`,
    `{"time":"2026-12-01T10:00:00.042Z","type":"platform.report","record":{"requestId":"${REQUEST_ID}","metrics":{"durationMs":41.52,"billedDurationMs":42,"memorySizeMB":512,"maxMemoryUsedMB":96},${TRACING},"status":"success"}}\n`,
  ],
} as const;

/** Bytes of Lambda's platform lines per invocation at a log format and system log level. */
export function lambdaPlatformLogBytes(format: 'Text' | 'JSON', systemLogLevel: 'DEBUG' | 'INFO' | 'WARN'): number {
  if (format === 'JSON' && systemLogLevel === 'WARN') return 0;
  const lines = format === 'JSON' ? LAMBDA_PLATFORM_LINES.json : LAMBDA_PLATFORM_LINES.text;
  return lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);
}

/**
 * The event source mapping's idle polling, per month, as AWS describes it: while a queue is empty,
 * Lambda long-polls it with five pollers (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html:
 * "Lambda uses long polling to poll a queue until it becomes active … five batches at a time"),
 * each ReceiveMessage waiting 20 s, billed as SQS requests (provisioned mode adds its own poller
 * charge and is not modelled). 30-day month.
 */
export const ESM_IDLE_POLLING = {
  pollers: 5,
  waitSeconds: 20,
  requestsPerMonth: (5 * 30 * 24 * 3600) / 20,
} as const;

/** USD a month of the event source mapping's idle polling on a FIFO queue ({@link ESM_IDLE_POLLING}). */
export function esmIdleUsdPerMonth(): number {
  return (ESM_IDLE_POLLING.requestsPerMonth / 1e6) * PRICES.sqsFifoRequest;
}

/** USD per million tasks of `bytesPerTask` log bytes ingested. */
export function logUsdPerMillionTasks(bytesPerTask: number): number {
  return ((bytesPerTask * 1e6) / BYTES_PER_GB) * PRICES.logIngestionPerGB;
}

const READS = new Set([
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactGetItemsCommand',
]);

/** Counts requests and capacity units of the clients it is attached to. */
export class RequestCounter {
  /** Requests by `Service.Operation`, e.g. `SQS.SendMessageBatch`. */
  readonly requests = new Map<string, number>();
  dynamoWriteUnits = 0;
  dynamoReadUnits = 0;

  /** Count every request `client` sends from now on. */
  attach(client: SQSClient | DynamoDBClient, service: 'SQS' | 'DynamoDB'): void {
    const stack = client.middlewareStack as {
      add(
        middleware: (
          next: (args: unknown) => Promise<{ output: unknown }>,
          context: { commandName?: string },
        ) => (args: unknown) => Promise<{ output: unknown }>,
        options: { step: 'initialize'; name: string },
      ): void;
    };
    stack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.requests.set(`${service}.${operation}`, (this.requests.get(`${service}.${operation}`) ?? 0) + 1);
        try {
          const result = await next(args);
          if (service === 'DynamoDB') this.#capacity(context.commandName ?? '', result.output);
          return result;
        } catch (error) {
          if (
            service === 'DynamoDB' &&
            error instanceof Error &&
            /ConditionalCheckFailed|TransactionCanceled/.test(error.name)
          ) {
            this.dynamoWriteUnits += 1;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'spoolRequestCounter' },
    );
  }

  /** Requests to one service. */
  total(service: 'SQS' | 'DynamoDB'): number {
    let sum = 0;
    for (const [key, n] of this.requests) if (key.startsWith(`${service}.`)) sum += n;
    return sum;
  }

  /** Forget everything counted so far. */
  reset(): void {
    this.requests.clear();
    this.dynamoWriteUnits = 0;
    this.dynamoReadUnits = 0;
  }

  #capacity(command: string, output: unknown): void {
    const consumed = (output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
    const list = Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed];
    for (const c of list as { CapacityUnits?: number }[]) {
      const units = c.CapacityUnits ?? 0;
      if (READS.has(command)) this.dynamoReadUnits += units;
      else this.dynamoWriteUnits += units;
    }
  }
}

/** USD per million tasks for the given per-task figures, at {@link PRICES}. */
export function usdPerMillionTasks(perTask: { sqsRequests: number; writeUnits: number; readUnits: number }): number {
  return (
    perTask.sqsRequests * PRICES.sqsFifoRequest +
    perTask.writeUnits * PRICES.dynamoWriteUnit +
    perTask.readUnits * PRICES.dynamoReadUnit
  );
}

/**
 * USD per million tasks, all in but compute duration: requests and capacity units
 * ({@link usdPerMillionTasks}), log ingestion, and Lambda invocations (0 for the long-running worker).
 */
export function allInUsdPerMillionTasks(perTask: {
  sqsRequests: number;
  writeUnits: number;
  readUnits: number;
  logBytes: number;
  invocations: number;
}): number {
  return (
    usdPerMillionTasks(perTask) +
    logUsdPerMillionTasks(perTask.logBytes) +
    perTask.invocations * PRICES.lambdaInvocation
  );
}
