/**
 * How a spool schedule or timer looks on EventBridge Scheduler — written once, used by the
 * scheduler port (`spool schedules sync`) and by the CDK construct, so both deploy the same thing
 * and `sync` after `cdk deploy` finds nothing to change. Imports no SDK.
 *
 * - Target: the task queue (SQS FIFO, templated target), `SqsParameters.MessageGroupId` =
 *   `sched:<name>` (or the run's group for a timer). Scheduler gives FIFO targets no
 *   deduplication id, so the queue has content-based deduplication: a retry by Scheduler carries
 *   the same body (with the same scheduled time) and is dropped.
 * - Input: the fire message with Scheduler's `<aws.scheduler.scheduled-time>` placeholder (a
 *   timer's input is the delayed run's message body itself).
 * - FlexibleTimeWindow OFF; retries for up to 24 hours (Scheduler's maximum: 185 attempts).
 * - Timers: named `delay.<task id>` (`timerName`), `at(…)` in UTC, `ActionAfterCompletion: DELETE`.
 *
 * @module
 */

import type { OneTimeTimer } from '../backend/scheduler.js';
import { type ScheduleSpec, triggerOf } from '../schedule/define.js';
import { fireGroup, fireTemplate } from '../schedule/fire.js';
import { toAwsExpression } from '../schedule/trigger.js';

/** Where schedules send, and as whom. */
export interface ScheduleTargetConfig {
  readonly queueArn: string;
  readonly roleArn: string;
}

/** The parts of a schedule spool sets (the shape of CreateSchedule's input, and of CloudFormation's). */
export interface SchedulerScheduleParams {
  readonly Name: string;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone: string;
  readonly Description?: string;
  readonly FlexibleTimeWindow: { readonly Mode: 'OFF' };
  readonly ActionAfterCompletion: 'NONE' | 'DELETE';
  readonly Target: {
    readonly Arn: string;
    readonly RoleArn: string;
    readonly Input: string;
    readonly SqsParameters: { readonly MessageGroupId: string };
    readonly RetryPolicy: { readonly MaximumEventAgeInSeconds: number; readonly MaximumRetryAttempts: number };
  };
}

const RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 } as const;

/** The Scheduler parameters of a recurring schedule; throws a `ConfigurationError` for one Scheduler cannot run (a sub-minute rate). */
export function recurringScheduleParams(spec: ScheduleSpec, target: ScheduleTargetConfig): SchedulerScheduleParams {
  const trigger = triggerOf(spec);
  return {
    Name: spec.name,
    ScheduleExpression: toAwsExpression(trigger, spec.name),
    ScheduleExpressionTimezone: trigger.kind === 'cron' ? trigger.timezone : 'UTC',
    ...(spec.description === undefined ? {} : { Description: spec.description.slice(0, 512) }),
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'NONE',
    Target: {
      Arn: target.queueArn,
      RoleArn: target.roleArn,
      Input: fireTemplate(spec),
      SqsParameters: { MessageGroupId: fireGroup(spec.name) },
      RetryPolicy: RETRY_POLICY,
    },
  };
}

/** The Scheduler parameters of a one-time timer: `at()` the next whole second, deleted after it fires. */
export function timerScheduleParams(timer: OneTimeTimer, target: ScheduleTargetConfig): SchedulerScheduleParams {
  const at = new Date(Math.ceil(timer.at / 1000) * 1000).toISOString().slice(0, 19);
  return {
    Name: timer.name,
    ScheduleExpression: `at(${at})`,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    Target: {
      Arn: target.queueArn,
      RoleArn: target.roleArn,
      Input: timer.message.body,
      SqsParameters: { MessageGroupId: timer.message.groupId },
      RetryPolicy: RETRY_POLICY,
    },
  };
}
