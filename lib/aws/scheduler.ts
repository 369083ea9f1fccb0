/**
 * The scheduler port on EventBridge Scheduler: recurring schedules and one-time timers in one
 * schedule group that spool owns (timers are named `delay.…`, {@link TIMER_PREFIX}). Scheduler
 * fires them itself (`firing: 'service'`).
 *
 * @module
 */

import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { DeployedSchedule, OneTimeTimer, SchedulerPort, ScheduleState } from '../backend/scheduler.js';
import { TIMER_PREFIX } from '../protocol/ids.js';
import type { ScheduleSpec } from '../schedule/define.js';
import { isFireMessage } from '../schedule/fire.js';
import {
  recurringScheduleParams,
  type SchedulerScheduleParams,
  type ScheduleTargetConfig,
  timerScheduleParams,
} from './schedule-params.js';

/** EventBridge Scheduler as spool's scheduler port. */
export class EventBridgeScheduler implements SchedulerPort {
  readonly firing = 'service' as const;
  readonly #client: SchedulerClient;
  readonly #group: string;
  readonly #target: ScheduleTargetConfig;

  constructor(client: SchedulerClient, group: string, target: ScheduleTargetConfig) {
    this.#client = client;
    this.#group = group;
    this.#target = target;
  }

  check(spec: ScheduleSpec): void {
    recurringScheduleParams(spec, this.#target);
  }

  /** Spool's recurring schedules in the group (timers and schedules spool did not make are left out). */
  async list(): Promise<DeployedSchedule[]> {
    const names: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.#client.send(
        new ListSchedulesCommand({ GroupName: this.#group, ...(NextToken === undefined ? {} : { NextToken }) }),
      );
      for (const s of page.Schedules ?? []) {
        if (s.Name !== undefined && !s.Name.startsWith(TIMER_PREFIX)) names.push(s.Name);
      }
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    const found = await Promise.all(names.map((name) => this.#get(name)));
    const deployed = found.map((out) => (out === undefined ? undefined : toDeployed(out)));
    return deployed
      .filter((d): d is DeployedSchedule => d !== undefined)
      .sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  // put — GetSchedule; absent: CreateSchedule (ENABLED); same parameters: nothing; else
  // UpdateSchedule with the current State. Outcomes: created | unchanged | updated.
  async put(spec: ScheduleSpec): Promise<'created' | 'updated' | 'unchanged'> {
    const params = recurringScheduleParams(spec, this.#target);
    const current = await this.#get(spec.name);
    if (current === undefined) {
      try {
        await this.#client.send(new CreateScheduleCommand({ ...params, GroupName: this.#group, State: 'ENABLED' }));
        return 'created';
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
        // Created by someone else just now: update it below.
      }
    } else if (sameParams(current, params)) {
      return 'unchanged';
    }
    const state = (current?.State as ScheduleState | undefined) ?? 'ENABLED';
    await this.#client.send(new UpdateScheduleCommand({ ...params, GroupName: this.#group, State: state }));
    return 'updated';
  }

  async remove(name: string): Promise<boolean> {
    return this.#delete(name);
  }

  async setState(name: string, state: ScheduleState): Promise<boolean> {
    const current = await this.#get(name);
    if (current === undefined) return false;
    if (current.State === state) return true;
    await this.#client.send(
      new UpdateScheduleCommand({
        Name: name,
        GroupName: this.#group,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        Description: current.Description,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        ActionAfterCompletion: current.ActionAfterCompletion,
        Target: current.Target,
        State: state,
      }),
    );
    return true;
  }

  // scheduleOnce — CreateSchedule at(…), ActionAfterCompletion DELETE. ConflictException: exists.
  async scheduleOnce(timer: OneTimeTimer): Promise<'created' | 'exists'> {
    try {
      await this.#client.send(
        new CreateScheduleCommand({
          ...timerScheduleParams(timer, this.#target),
          GroupName: this.#group,
          State: 'ENABLED',
        }),
      );
      return 'created';
    } catch (error) {
      if (error instanceof ConflictException) return 'exists';
      throw error;
    }
  }

  async cancelOnce(name: string): Promise<boolean> {
    return this.#delete(name);
  }

  async #get(name: string): Promise<GetScheduleCommandOutput | undefined> {
    try {
      return await this.#client.send(new GetScheduleCommand({ Name: name, GroupName: this.#group }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async #delete(name: string): Promise<boolean> {
    try {
      await this.#client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.#group }));
      return true;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  }
}

/** A deployed schedule from GetSchedule's output; `undefined` when its input is not a spool fire message. */
function toDeployed(out: GetScheduleCommandOutput): DeployedSchedule | undefined {
  let input: unknown;
  try {
    input = JSON.parse(out.Target?.Input ?? '');
  } catch {
    return undefined;
  }
  if (typeof input !== 'object' || input === null || !isFireMessage(input as Record<string, unknown>)) return undefined;
  const spec = (input as { fire: ScheduleSpec }).fire;
  return {
    spec,
    state: out.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
    ...(out.LastModificationDate === undefined ? {} : { updatedAt: out.LastModificationDate.getTime() }),
  };
}

/** Whether a deployed schedule already has the parameters spool would set. */
function sameParams(current: GetScheduleCommandOutput, params: SchedulerScheduleParams): boolean {
  const t = current.Target;
  return (
    current.ScheduleExpression === params.ScheduleExpression &&
    (current.ScheduleExpressionTimezone ?? 'UTC') === params.ScheduleExpressionTimezone &&
    (current.Description || undefined) === params.Description &&
    t?.Arn === params.Target.Arn &&
    t?.RoleArn === params.Target.RoleArn &&
    t?.Input === params.Target.Input &&
    t?.SqsParameters?.MessageGroupId === params.Target.SqsParameters.MessageGroupId
  );
}
