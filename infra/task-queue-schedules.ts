/**
 * The scheduling half of a `TaskQueue`: an EventBridge Scheduler schedule group that spool owns,
 * the role Scheduler assumes to send to the task queue (only `sqs:SendMessage` on that queue,
 * only for the schedules of this group), and one `AWS::Scheduler::Schedule` per schedule declared
 * in code — with exactly the parameters `spool schedules sync` would set (lib/aws/schedule-params.ts),
 * so a sync after `cdk deploy` finds nothing to change, plus the customer managed key when one is
 * given (`KmsKeyArn`, which encrypts a schedule's payload).
 *
 * @module
 */

import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { recurringScheduleParams } from '../lib/aws/schedule-params.js';
import { TIMER_PREFIX } from '../lib/protocol/ids.js';
import type { Schedule } from '../lib/schedule/define.js';

/** Props of {@link TaskQueueSchedules}. */
export interface TaskQueueSchedulesProps {
  /** The task queue schedules and one-time timers send to. */
  readonly queue: sqs.IQueue;
  /**
   * The queue's customer managed key, if any: the recurring schedules' payloads are encrypted with
   * it, and the role may use it to decrypt them and to send to the queue.
   */
  readonly encryptionKey: kms.IKey | undefined;
  /** Schedules declared in code (`defineSchedule`). */
  readonly schedules: readonly Schedule[];
}

/** The schedule group, the Scheduler role and the recurring schedules of a task queue. */
export class TaskQueueSchedules extends Construct {
  /** The schedule group: recurring schedules by name, one-time timers as `delay.<task id>`. */
  readonly group: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to send to the task queue. */
  readonly role: iam.Role;
  /** The recurring schedules, by name. */
  readonly schedules: ReadonlyMap<string, scheduler.CfnSchedule>;

  constructor(scope: Construct, id: string, props: TaskQueueSchedulesProps) {
    super(scope, id);
    const { account, partition, region } = Stack.of(this);
    this.group = new scheduler.CfnScheduleGroup(this, 'Group', {});
    this.role = new iam.Role(this, 'SchedulerRole', {
      // Only this account's EventBridge Scheduler, for a schedule of this group, may assume it
      // (confused-deputy guard). Scheduler's aws:SourceArn is the schedule group's ARN: its guide
      // ("Confused deputy prevention") says never to scope it to a schedule or a name prefix.
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': account, 'aws:SourceArn': this.group.attrArn } },
      }),
      description: `EventBridge Scheduler sends spool fires and delayed runs to ${this.node.path}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }),
    );
    const key = props.encryptionKey;
    if (key !== undefined) {
      // Sending to the queue encrypted with the key: through SQS only.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${props.queue.env.region}.amazonaws.com` } },
        }),
      );
      // Decrypting a schedule's payload: Scheduler calls KMS as this role itself, not through a
      // service, so kms:ViaService cannot apply; the encryption context (the schedule's ARN) holds
      // it to this group's schedules.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [key.keyArn],
          conditions: {
            StringLike: {
              'kms:EncryptionContext:aws:scheduler:schedule:arn': `arn:${partition}:scheduler:${region}:${account}:schedule/${this.groupName}/*`,
            },
          },
        }),
      );
    }

    const byName = new Map<string, scheduler.CfnSchedule>();
    for (const schedule of props.schedules) {
      if (byName.has(schedule.name)) {
        throw new Error(
          `TaskQueue: two schedules are named '${schedule.name}'. Schedule names must be unique; rename one.`,
        );
      }
      const p = recurringScheduleParams(schedule.spec, { queueArn: props.queue.queueArn, roleArn: this.role.roleArn });
      const cfn = new scheduler.CfnSchedule(this, `Schedule-${schedule.name}`, {
        name: p.Name,
        groupName: this.groupName,
        scheduleExpression: p.ScheduleExpression,
        scheduleExpressionTimezone: p.ScheduleExpressionTimezone,
        ...(p.Description === undefined ? {} : { description: p.Description }),
        flexibleTimeWindow: { mode: p.FlexibleTimeWindow.Mode },
        // The payload (Target.Input) encrypted with the customer managed key. TODO(lib): until
        // lib/aws/schedule-params.ts carries KmsKeyArn, `spool schedules sync` updating this
        // schedule (or pausing it) writes it back without the key.
        ...(key === undefined ? {} : { kmsKeyArn: key.keyArn }),
        state: 'ENABLED',
        target: {
          arn: p.Target.Arn,
          roleArn: p.Target.RoleArn,
          input: p.Target.Input,
          sqsParameters: { messageGroupId: p.Target.SqsParameters.MessageGroupId },
          retryPolicy: {
            maximumEventAgeInSeconds: p.Target.RetryPolicy.MaximumEventAgeInSeconds,
            maximumRetryAttempts: p.Target.RetryPolicy.MaximumRetryAttempts,
          },
        },
      });
      byName.set(schedule.name, cfn);
    }
    this.schedules = byName;
  }

  /** The schedule group's name. */
  get groupName(): string {
    return this.group.ref;
  }

  /** The ARN pattern of one-time timers (`schedule/<group>/delay.*`): what producers create and delete. */
  get timerArns(): string {
    const { partition, region, account } = Stack.of(this);
    return `arn:${partition}:scheduler:${region}:${account}:schedule/${this.groupName}/${TIMER_PREFIX}*`;
  }
}
