/**
 * The cdk-nag findings spool's constructs cannot avoid, each acknowledged with its reason. These
 * use only aws-cdk-lib's `Validations` (cdk-nag 3.x reports through CDK's policy validation), so an
 * app that runs cdk-nag calls them without spool depending on cdk-nag; an app that does not run it
 * need not call them (an acknowledgement of a rule no plugin checks does nothing).
 *
 * @example
 * ```ts
 * import { AwsSolutionsChecks } from 'cdk-nag';
 * import { acknowledgeEnqueueGrantFindings, acknowledgeTaskQueueFindings, TaskQueue } from 'spool-tasks/cdk';
 *
 * Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
 * const tasks = new TaskQueue(stack, 'Tasks', { workerEntry: 'functions/worker.ts' });
 * acknowledgeTaskQueueFindings(tasks);
 * tasks.grantEnqueue(apiRole);
 * acknowledgeEnqueueGrantFindings(apiRole, tasks);
 * ```
 *
 * @module
 */

import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { TaskQueueHttpApi } from './http-api.js';
import type { GrantEnqueueOptions, TaskQueue } from './task-queue.js';

/** X-Ray's wildcard: the id as the CLI prints it, `<pack>::<rule>[<finding>]` (one finding; other wildcards still fail). */
const XRAY_WILDCARD = 'AwsSolutions::AwsSolutions-IAM5[Resource::*]';

const xrayReason = (others: string) =>
  'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
  'permissions, so AWS requires Resource "*" (the statement aws-cdk-lib adds for Tracing.ACTIVE). Every other ' +
  `statement of ${others}.`;

/**
 * Acknowledge the findings a {@link TaskQueue} cannot avoid: the X-Ray wildcard of its worker's
 * role, the worker's grant on the blobs (`blobs/*`, keys known only at run time), and, when the
 * blob bucket has no access-log bucket (`blobAccessLogsBucket`), its missing server access logs.
 * Call it for each task queue of an app checked with cdk-nag.
 */
export function acknowledgeTaskQueueFindings(taskQueue: TaskQueue): void {
  Validations.of(taskQueue.workerRole).acknowledge({
    id: XRAY_WILDCARD,
    reason: xrayReason('the worker role names its queue, table, index or log group'),
  });
  Validations.of(taskQueue.workerRole).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId(taskQueue)}.Arn>/blobs/*]`,
    reason:
      "The claim-check: the worker reads and writes blobs whose keys hold task ids and content digests, known only at run time; the grant covers the objects under blobs/ in the task queue's own bucket only.",
  });
  // Only without an access-log bucket (TaskQueueProps.blobAccessLogsBucket); with one, S1 is met.
  const logged = (taskQueue.bucket.node.defaultChild as { loggingConfiguration?: unknown }).loggingConfiguration;
  if (logged !== undefined) return;
  Validations.of(taskQueue.bucket).acknowledge({
    id: 'AwsSolutions::AwsSolutions-S1',
    reason:
      "The blob bucket holds transient claim-check payloads (arguments, results, error messages too large for SQS or DynamoDB) read and written only by the task queue's own roles, which CloudTrail records; pass blobAccessLogsBucket to keep S3 server access logs too.",
  });
}

/**
 * Acknowledge the findings a {@link TaskQueueHttpApi} cannot avoid (the X-Ray wildcard of its
 * function's role). Call it for each HTTP API of an app checked with cdk-nag, with
 * {@link acknowledgeEnqueueGrantFindings} for its role.
 */
export function acknowledgeTaskQueueHttpApiFindings(httpApi: TaskQueueHttpApi): void {
  Validations.of(httpApi.role).acknowledge({
    id: XRAY_WILDCARD,
    reason: xrayReason("the HTTP API's role names its queue, table or log group (grantEnqueue, grantReadResults)"),
  });
}

/**
 * Acknowledge the wildcards that {@link TaskQueue.grantEnqueue} and {@link TaskQueue.grantCancel}
 * give `principal` (a role or function granted with either): writing argument blobs, and creating
 * (enqueue, unless `delays: false`) and deleting (cancel) the one-time schedules `delay.*` of runs
 * delayed by more than 15 minutes, whose names are task ids, known only at enqueue.
 */
export function acknowledgeEnqueueGrantFindings(
  principal: IConstruct,
  taskQueue: TaskQueue,
  options: GrantEnqueueOptions = {},
): void {
  Validations.of(principal).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId(taskQueue)}.Arn>/blobs/*d/args/*]`,
    reason:
      "The claim-check: arguments too large for an SQS message are written as a blob keyed by the run's task id and the content's digest, known only at enqueue; the grant covers PutObject on argument blobs (blobs/*d/args/*) in the task queue's own bucket only.",
  });
  // Given `grantEnqueue(principal, { delays: false })`, the principal has no schedule wildcard to acknowledge.
  if (options.delays === false) return;
  const group = Stack.of(taskQueue).getLogicalId(taskQueue.scheduling.group);
  Validations.of(principal).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<${group}>/delay.*]`,
    reason:
      "Delayed runs: a run delayed by more than 15 minutes is a one-time schedule named delay.<task id> in the task queue's " +
      'schedule group, created at enqueue and deleted on cancel. The ids are only known then, so the grant covers delay.* ' +
      'in that one group (not its recurring schedules, not other groups).',
  });
}

/**
 * Acknowledge the wildcards {@link TaskQueue.grantReadResults} gives `principal`: reading the blobs
 * of results and error messages too large for a record, whose keys hold task ids known only when
 * they are read.
 */
export function acknowledgeReadResultsGrantFindings(principal: IConstruct, taskQueue: TaskQueue): void {
  for (const kind of ['result', 'error']) {
    Validations.of(principal).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId(taskQueue)}.Arn>/blobs/*d/${kind}/*]`,
      reason: `The claim-check: ${kind === 'result' ? 'a result' : 'an error message'} too large for a DynamoDB item is a blob keyed by its run's task id and the content's digest, known only when it is read; the grant covers GetObject on those blobs (blobs/*d/${kind}/*) in the task queue's own bucket only.`,
    });
  }
}

/** The logical id of the task queue's blob bucket, as cdk-nag names it in a finding. */
function bucketId(taskQueue: TaskQueue): string {
  return Stack.of(taskQueue).getLogicalId(taskQueue.bucket.node.defaultChild as CfnElement);
}
