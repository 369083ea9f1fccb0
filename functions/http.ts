/**
 * The HTTP API Lambda (a function URL with IAM auth, `infra/http-api.ts`): `POST /tasks/{taskName}`
 * enqueues a run of the example app's tasks, `GET /tasks/{id}` reads its status. Configuration comes
 * from the environment `TaskQueue.bindTo()` sets; its role holds only `grantEnqueue` and
 * `grantReadResults`. Replace the example app with yours.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import type { LambdaFunctionURLHandler } from 'aws-lambda';
import { openAwsBackend } from 'spool-tasks/aws';
import { createHttpHandler } from 'spool-tasks/lambda';
import { fromPowertoolsLogger } from 'spool-tasks/powertools';
import { createOrdersApp } from '../examples/orders/app.js';

const powertools = new Logger({ serviceName: 'spool-http' });
const logger = fromPowertoolsLogger(powertools);

export const handler = createHttpHandler(() => createOrdersApp({ backend: openAwsBackend(), logger }), {
  logger,
  onInvocation: (context) => powertools.addContext(context),
}) satisfies LambdaFunctionURLHandler;
