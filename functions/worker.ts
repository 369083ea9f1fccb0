/**
 * The worker Lambda: SQS FIFO event source → spool's processor → partial batch response.
 * Configuration comes from the environment the CDK construct sets (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE, AWS_REGION). Logs and metrics go through Powertools. Replace the example app with yours.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { openAwsBackend } from 'spool-tasks/aws';
import { createSqsHandler } from 'spool-tasks/lambda';
import { fromPowertoolsLogger, metricsMiddleware } from 'spool-tasks/powertools';
import { createOrdersApp } from '../examples/orders/app.js';

const logger = new Logger({ serviceName: 'spool-worker' });
const metrics = new Metrics({ namespace: 'spool', serviceName: 'spool-worker' });

export const handler = createSqsHandler(
  () =>
    createOrdersApp({
      backend: openAwsBackend(),
      logger: fromPowertoolsLogger(logger),
      middleware: [metricsMiddleware(metrics)],
    }),
  { onInvocation: (context) => logger.addContext(context) },
);
