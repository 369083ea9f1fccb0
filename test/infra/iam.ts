/** Reading a template's IAM policies in tests: every statement attached to a role, normalized. */

import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { expect } from 'vitest';

/** One Allow statement, with actions and resources as sorted lists. */
export interface Statement {
  readonly actions: string[];
  readonly resources: unknown[];
  readonly condition?: unknown;
}

interface CfnPolicy {
  readonly Type: string;
  readonly Properties: {
    readonly Roles?: { readonly Ref?: string }[];
    readonly PolicyDocument: {
      readonly Statement: { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[];
    };
  };
}

const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);
const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** Normalize statements: actions and resources sorted, then the statements. */
export const sorted = (statements: Statement[]): Statement[] =>
  statements
    .map((s) => ({ ...s, actions: [...s.actions].sort(), resources: [...s.resources].sort(byJson) }))
    .sort(byJson);

/** Every statement of every policy attached to a role, normalized (each must be an Allow). */
export function statementsOf(stack: Stack, role: IConstruct): Statement[] {
  const resources: Record<string, CfnPolicy> = Template.fromStack(stack).toJSON().Resources;
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement);
  const statements: Statement[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' || !(resource.Properties.Roles ?? []).some((r) => r.Ref === roleId)) {
      continue;
    }
    for (const s of resource.Properties.PolicyDocument.Statement) {
      expect(s.Effect).toBe('Allow');
      statements.push({
        actions: list(s.Action),
        resources: list(s.Resource),
        ...(s.Condition === undefined ? {} : { condition: s.Condition }),
      });
    }
  }
  return sorted(statements);
}

/** An environment-agnostic stack's partition, region and account, as they appear in a template. */
const AGNOSTIC = {
  partition: { Ref: 'AWS::Partition' },
  region: { Ref: 'AWS::Region' },
  account: { Ref: 'AWS::AccountId' },
} as const;

/** `Fn::Join` of `parts` as CloudFormation synthesis writes it: adjacent strings merged. */
function join(parts: unknown[]): unknown {
  const merged: unknown[] = [];
  for (const part of parts) {
    const last = merged.length - 1;
    if (typeof part === 'string' && typeof merged[last] === 'string') merged[last] = `${merged[last]}${part}`;
    else merged.push(part);
  }
  return merged.length === 1 && typeof merged[0] === 'string' ? merged[0] : { 'Fn::Join': ['', merged] };
}

/** Where a stack's resources are, for ARNs: tokens of an environment-agnostic stack unless given. */
type Env = { partition?: unknown; region?: unknown; account?: unknown };

/** The ARN pattern of the one-time schedules `delay.*` of `group` (a group name, or its `{ Ref }`). */
function delayedRunSchedules(group: unknown, env: Env): unknown {
  const { partition, region, account } = { ...AGNOSTIC, ...env };
  return join(['arn:', partition, ':scheduler:', region, ':', account, ':schedule/', group, '/delay.*']);
}

/**
 * The statements `grantEnqueue` adds for runs delayed by more than 15 minutes: create the one-time
 * schedules `delay.*` of `group` (a group name, or its `{ Ref }`) in the stack's partition, region
 * and account (tokens unless given), and pass `schedulerRole` (an ARN, or its `Fn::GetAtt`) to
 * EventBridge Scheduler only.
 */
export function timerStatements(group: unknown, schedulerRole: unknown, env: Env = {}): Statement[] {
  return [
    { actions: ['scheduler:CreateSchedule'], resources: [delayedRunSchedules(group, env)] },
    {
      actions: ['iam:PassRole'],
      resources: [schedulerRole],
      condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    },
  ];
}

/** The statement `grantCancel` adds with a scheduler: delete the one-time schedules `delay.*` of `group`. */
export function cancelTimerStatement(group: unknown, env: Env = {}): Statement {
  return { actions: ['scheduler:DeleteSchedule'], resources: [delayedRunSchedules(group, env)] };
}

/** `dynamodb:LeadingKeys` limited to items whose key starts with one of `prefixes` (`task#*`, …). */
export const leadingKeys = (...prefixes: string[]) => ({
  'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes },
});

/**
 * The statement `grantEnqueue` adds for a unique task's lock takeover check: GetItem on task
 * records of `table` (an ARN or its token), projected to `pk`, `state` and `expiresAt` only.
 */
export function stateReadStatement(table: unknown): Statement {
  return {
    actions: ['dynamodb:GetItem'],
    resources: [table],
    condition: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['task#*'] },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'state', 'expiresAt'] },
      StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    },
  };
}

/** A key grant of `actions` on `key` through `service` of the stack's region (a token unless given) only. */
export function viaService(
  key: unknown,
  actions: string[],
  service: string,
  region: unknown = AGNOSTIC.region,
): Statement {
  return {
    actions,
    resources: [key],
    condition: { StringEquals: { 'kms:ViaService': join([`${service}.`, region, '.amazonaws.com']) } },
  };
}
