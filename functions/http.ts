/**
 * The HTTP API Lambda (a function URL with IAM auth, `infra/http-api.ts`): `POST /tasks/{taskName}`
 * enqueues a run of one of the exposed tasks below, `GET /tasks/{id}` reads its status (the details
 * only for the principal that enqueued it). Configuration comes from the environment
 * `TaskQueue.bindTo()` sets; its role holds only `grantEnqueue` (without delays) and
 * `grantReadResults`. Replace the example app with yours, and `expose` with the tasks your callers
 * may enqueue: no other task can be.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import type { LambdaFunctionURLHandlerWithIAMAuthorizer } from 'aws-lambda';
import { openAwsBackend } from 'spool-tasks/aws';
import { createHttpHandler } from 'spool-tasks/lambda';
import { fromPowertoolsLogger } from 'spool-tasks/powertools';
import { createOrdersApp } from '../examples/orders/app.js';
import { chargeOrder, monthlyReport, sendReceipt } from '../examples/orders/contracts.js';

const powertools = new Logger({ serviceName: 'spool-http' });
const logger = fromPowertoolsLogger(powertools);

export const handler = createHttpHandler(() => createOrdersApp({ backend: openAwsBackend(), logger }), {
  expose: {
    // Charges of one customer in order: callers send X-Ordering-Key: <customer id>.
    [chargeOrder.name]: { orderingKeys: true },
    [sendReceipt.name]: {},
    // One report a month for everyone (a unique task): whoever asks may read it.
    [monthlyReport.name]: { results: 'any-caller' },
    // orders.reconcile is not exposed: the nightly schedule runs it.
  },
  logger,
  onInvocation: (context) => powertools.addContext(context),
}) satisfies LambdaFunctionURLHandlerWithIAMAuthorizer;
