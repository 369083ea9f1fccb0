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
} as const;

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
