/**
 * The example producer Lambda: enqueue `orders.charge` for an order, answer with the run's task id.
 * Configuration comes from the environment `TaskQueue.bindTo()` sets (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE; AWS_REGION from Lambda). Its role holds only `grantEnqueue` and `grantReadResults`.
 */

import { createOrdersApp } from '../examples/orders/app.js';
import { openAwsBackend } from '../lib/aws/backend.js';

/** The event: an order to charge. */
export interface ChargeOrderEvent {
  readonly orderId: string;
  readonly amountCents: number;
}

let app: ReturnType<typeof createOrdersApp> | undefined;

/** Enqueue the charge (the same order twice is one run) and return its task id. */
export async function handler(event: ChargeOrderEvent): Promise<{ taskId: string }> {
  app ??= createOrdersApp({ backend: openAwsBackend() });
  const run = await app.enqueue(app.orderTasks.chargeOrder, { orderId: event.orderId, amountCents: event.amountCents });
  return { taskId: run.id };
}
