/**
 * cdk-nag: the AwsSolutions rule pack on every synthesis, and the findings acknowledged — only those
 * that cannot be fixed, each with its reason. cdk-nag 3.x reports through CDK's policy validation: an
 * unacknowledged error fails `app.synth()` (and so `cdk synth`, exit code 1), and the unacknowledged
 * findings are listed in the cloud assembly's `validation-report.json`.
 *
 * @module
 */

import { type App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { SpoolExampleStack } from './app.js';
import type { TaskQueueHttpApi } from './http-api.js';
import type { TaskQueue } from './task-queue.js';

/** Register cdk-nag's AwsSolutions checks on the app (the 3.x form; the Aspects form of 2.x throws). */
export function checkWithCdkNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * Acknowledge the findings a {@link TaskQueue} cannot avoid. Call it for each task queue of an app
 * checked with cdk-nag.
 */
export function acknowledgeTaskQueueFindings(taskQueue: TaskQueue): void {
  // The id as the CLI prints it: `<pack>::<rule>[<finding>]` (one finding; other wildcards still fail).
  Validations.of(taskQueue.workerRole).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
      'permissions, so AWS requires Resource "*" (the statement aws-cdk-lib adds for Tracing.ACTIVE). Every other ' +
      'statement of the worker role names its queue, table, index or log group.',
  });
}

/**
 * Acknowledge the findings a {@link TaskQueueHttpApi} cannot avoid. Call it for each HTTP API of an
 * app checked with cdk-nag.
 */
export function acknowledgeTaskQueueHttpApiFindings(httpApi: TaskQueueHttpApi): void {
  Validations.of(httpApi.role).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
      'permissions, so AWS requires Resource "*" (the statement aws-cdk-lib adds for Tracing.ACTIVE). Every other ' +
      "statement of the HTTP API's role names its queue, table or log group (grantEnqueue, grantReadResults).",
  });
}

/**
 * Acknowledge the one wildcard {@link TaskQueue.grantEnqueue} gives `principal` (a role or
 * function granted with it): create and delete the one-time schedules `delay.*` of runs delayed
 * by more than 15 minutes, whose names are task ids, known only at enqueue.
 */
export function acknowledgeEnqueueGrantFindings(principal: IConstruct, taskQueue: TaskQueue): void {
  const group = Stack.of(taskQueue).getLogicalId(taskQueue.scheduling.group);
  Validations.of(principal).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<${group}>/delay.*]`,
    reason:
      "Delayed runs: a run delayed by more than 15 minutes is a one-time schedule named delay.<task id> in the task queue's " +
      'schedule group, created at enqueue and deleted on cancel. The ids are only known then, so the grant covers delay.* ' +
      'in that one group (not its recurring schedules, not other groups).',
  });
}

/** Acknowledge the findings of the example stack that cannot be fixed. */
export function acknowledgeExampleFindings(stack: SpoolExampleStack): void {
  acknowledgeTaskQueueFindings(stack.tasks);
  acknowledgeEnqueueGrantFindings(stack.producer.role ?? stack.producer, stack.tasks);
  if (stack.httpApi !== undefined) {
    acknowledgeTaskQueueHttpApiFindings(stack.httpApi);
    acknowledgeEnqueueGrantFindings(stack.httpApi.role, stack.tasks);
  }
}
