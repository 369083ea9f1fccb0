/**
 * `spool-tasks/lambda`: the Lambda handlers. {@link createSqsHandler} runs tasks from the task
 * queue's SQS event source; {@link createHttpHandler} serves the HTTP API (enqueue and status)
 * behind a function URL. Imports no AWS SDK and no SQLite code of its own: pair it with
 * `openAwsBackend` from `spool-tasks/aws`.
 *
 * @module
 */

export {
  createHttpHandler,
  type EnqueueResponse,
  type ErrorResponse,
  EXPOSED_TASK_DEFAULTS,
  type ExposedTask,
  HTTP_STATUS_BY_ERROR_CODE,
  type HttpHandlerOptions,
  type HttpProducer,
  type HttpProducerSource,
  type HttpResponse,
  iamPrincipal,
  type RestrictedStatusResponse,
  type ResultReaders,
  type StatusResponse,
} from './http-api.js';
export { type AppSource, createSqsHandler, RELEASE_BEFORE_DEADLINE_MS, type RunnableApp } from './lambda.js';
export type {
  FunctionUrlEvent,
  FunctionUrlIamIdentity,
  LambdaContext,
  SqsBatchResponse,
  SqsEvent,
  SqsRecord,
} from './lambda-types.js';
