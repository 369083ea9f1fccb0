/**
 * The worker Lambda: SQS FIFO event source → spool's processor → partial batch response.
 * Configuration comes from the environment the CDK construct sets (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE, AWS_REGION). Logs and metrics go through Powertools. Replace the example app with yours.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { openAwsBackend } from 'spool-tasks/aws';
import { createSqsHandler } from 'spool-tasks/lambda';
import { fromPowertoolsLogger, metricsMiddleware, publishingMetrics } from 'spool-tasks/powertools';
import { createOrdersApp } from '../examples/orders/app.js';

const logger = new Logger({ serviceName: 'spool-worker' });
const metrics = new Metrics({ namespace: 'spool', serviceName: 'spool-worker' });
// Metrics counted per attempt, written once per invocation: one EMF line per task name.
const measured = metricsMiddleware(metrics, { publish: 'invocation' });

export const handler = publishingMetrics(
  createSqsHandler(
    () =>
      createOrdersApp({
        backend: openAwsBackend(),
        logger: fromPowertoolsLogger(logger),
        middleware: [measured],
      }),
    { onInvocation: (context) => logger.addContext(context) },
  ),
  measured,
);
