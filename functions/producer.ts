/**
 * The example producer Lambda: enqueue `orders.charge` for an order, answer with the run's task id.
 * It imports the app's contracts only, so its bundle holds no handler, provider or worker code.
 * Configuration comes from the environment `TaskQueue.bindTo()` sets (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE; AWS_REGION from Lambda). Its role holds only `grantEnqueue` and `grantReadResults`.
 */

import { createProducer, type Producer } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { chargeOrder } from '../examples/orders/contracts.js';

/** The event: an order to charge. */
export interface ChargeOrderEvent {
  readonly orderId: string;
  readonly amountCents: number;
}

let producer: Producer | undefined;

/** Enqueue the charge (the same order twice is one run) and return its task id. */
export async function handler(event: ChargeOrderEvent): Promise<{ taskId: string }> {
  producer ??= createProducer({ backend: openAwsBackend() });
  const run = await producer.enqueue(chargeOrder, { orderId: event.orderId, amountCents: event.amountCents });
  return { taskId: run.id };
}
