/**
 * `spool-tasks/cdk`: the AWS CDK constructs. {@link TaskQueue} deploys a task queue (SQS FIFO queue
 * and dead-letter queue, DynamoDB table, worker Lambda on the queue's event source, schedules,
 * alarms and a dashboard) with grants for producers; {@link TaskQueueHttpApi} adds the HTTP API.
 * The acknowledgements of the cdk-nag findings they cannot avoid come with them (they need only
 * aws-cdk-lib). Needs `aws-cdk-lib` and `constructs` (optional peer dependencies), and `esbuild` to
 * bundle the worker's entry.
 *
 * @module
 */

export {
  acknowledgeEnqueueGrantFindings,
  acknowledgeReadResultsGrantFindings,
  acknowledgeTaskQueueFindings,
  acknowledgeTaskQueueHttpApiFindings,
} from './acknowledgements.js';
export { LAMBDA_BUNDLING, LOCK_FILES, type SpoolBundlingOptions } from './function-code.js';
export {
  TASK_QUEUE_HTTP_API_DEFAULTS,
  TaskQueueHttpApi,
  type TaskQueueHttpApiProps,
  TaskQueueHttpApiPropsError,
} from './http-api.js';
export { type GrantEnqueueOptions, type ITaskQueue, TaskQueue, type TaskQueueAttributes } from './task-queue.js';
export { TaskQueueMonitoring, type TaskQueueMonitoringProps } from './task-queue-monitoring.js';
export { TASK_QUEUE_DEFAULTS, type TaskQueueProps, TaskQueuePropsError } from './task-queue-props.js';
export { TaskQueueSchedules, type TaskQueueSchedulesProps } from './task-queue-schedules.js';
