/**
 * spool: typed tasks, exactly-once effects, on SQS FIFO + Lambda + DynamoDB or an embedded SQLite
 * runtime. This entry point is backend-neutral: it never imports an AWS SDK.
 *
 * @module
 */

export type { Backend } from './backend/backend.js';
export type { BlobKind, BlobRef, BlobStore } from './backend/blobs.js';
export type * from './backend/scheduler.js';
export type * from './backend/store.js';
export type * from './backend/transport.js';
export { DEDUPLICATION_WINDOW_MS, MAX_BATCH, MAX_MESSAGE_BYTES } from './backend/transport.js';
export {
  countDeadLetters,
  type DeadLetter,
  describeDeadLetter,
  listDeadLetters,
  type RedriveOptions,
  redriveDeadLetters,
} from './client/dlq.js';
export type { EnqueueOptions } from './client/enqueue.js';
export type { ResultOptions, TaskHandle } from './client/handle.js';
export { createProducer, type Producer, type ProducerOptions } from './client/producer.js';
export { createSpool, type Spool, type SpoolOptions } from './client/spool.js';
export {
  createLogger,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './log/logger.js';
export { argumentsHash } from './protocol/canonical.js';
export { PROTOCOL_VERSION } from './protocol/envelope.js';
export { MAX_LOCK_KEY_BYTES } from './protocol/ids.js';
export { DEFAULT_MAX_ARGUMENT_BYTES, MAX_ENQUEUED_BY_LENGTH, MAX_RESULT_BYTES } from './protocol/limits.js';
export {
  defineSchedule,
  type MissedRunsPolicy,
  type OverlapPolicy,
  type Schedule,
  type ScheduleDefinition,
  type ScheduleSpec,
} from './schedule/define.js';
export { fireId } from './schedule/fire.js';
export {
  type AnyTaskContract,
  type ContractResultDeclaration,
  defineTaskContract,
  type TaskContract,
  type TaskContractDefinition,
  type TimeoutOptions,
} from './task/contract.js';
export {
  type AnyTask,
  defineTask,
  implementTask,
  type Task,
  type TaskArgs,
  type TaskContext,
  type TaskDefinition,
  type TaskResult,
} from './task/define.js';
export {
  ConfigurationError,
  EnqueueError,
  type EnqueueErrorCode,
  HardTimeoutError,
  hasErrorCode,
  InvalidResultError,
  isRetriable,
  isSpoolError,
  NonRetriableError,
  RetryAfterError,
  SPOOL_ERROR_BRAND,
  SPOOL_ERROR_CODES,
  SpoolError,
  type SpoolErrorCode,
  type SpoolErrorOf,
  type SpoolErrorOptions,
  TaskFailedError,
  TimeoutError,
  ValidationError,
} from './task/errors.js';
export type { EnqueueEvent, Middleware, RunEvent } from './task/middleware.js';
export type { Jsonify } from './task/result.js';
export { DEFAULT_RETRY, type RetryOptions } from './task/retry.js';
export { isTerminal, TASK_STATES, type TaskState, TERMINAL_STATES } from './task/states.js';
export { AttemptAbortedError } from './worker/attempt.js';
export { createWorker, WORKER_DEFAULTS, type Worker, type WorkerOptions } from './worker/worker.js';
