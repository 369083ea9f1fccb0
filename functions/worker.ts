/**
 * The worker Lambda: SQS FIFO event source → spool's processor → partial batch response.
 * Configuration comes from the environment the CDK construct sets (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE, AWS_REGION). Replace the example app with yours.
 */

import { createOrdersApp } from '../examples/orders/app.js';
import { openAwsBackend } from '../lib/aws/backend.js';
import { createSqsHandler } from '../lib/aws/lambda.js';

export const handler = createSqsHandler(() => createOrdersApp({ backend: openAwsBackend() }));
