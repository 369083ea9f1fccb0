/**
 * The props of the {@link TaskQueue} construct, their defaults (in one place, {@link TASK_QUEUE_DEFAULTS}) and
 * their validation: a table of rules, each with a message saying what was given, what is allowed and
 * how to fix it. Values that are unresolved tokens are not checked here (CloudFormation checks them).
 *
 * @module
 */

import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { SPOOL_LAYOUT } from '../lib/aws/layout.js';
import { MAX_BATCH, MAX_REDRIVE_RECEIVE_COUNT, MAX_VISIBILITY_SECONDS } from '../lib/protocol/limits.js';
import type { Schedule } from '../lib/schedule/define.js';
import {
  functionSourceRules,
  type ResolvedFunctionSource,
  resolveFunctionSource,
  type SpoolBundlingOptions,
} from './function-code.js';

/**
 * Props of a {@link TaskQueue}. The worker's code is required: {@link TaskQueueProps.workerEntry}, or
 * {@link TaskQueueProps.workerCode}; every other prop is optional.
 */
export interface TaskQueueProps {
  /**
   * The worker Lambda's entry file: your module exporting `handler`, made with `createSqsHandler` of
   * `spool-tasks/lambda` over your tasks, bundled with esbuild as one CommonJS file with the AWS SDK
   * inside (`LAMBDA_BUNDLING` of `spool-tasks/cdk`). A relative path resolves against the working directory of the
   * CDK app (where `cdk` runs), as `NodejsFunction`'s `entry` does; an absolute one
   * (`join(import.meta.dirname, '../functions/worker.ts')`) does not depend on it. Required unless
   * {@link workerCode} is given.
   * @default none: pass this or `workerCode`
   */
  readonly workerEntry?: string;
  /**
   * Code to deploy instead of bundling {@link workerEntry}: a bundle built elsewhere, or inline code in
   * unit tests (bundling runs esbuild on every synthesis). Its handler must be `index.handler`.
   * @default none: the bundle of `workerEntry`
   */
  readonly workerCode?: lambda.Code;
  /**
   * The lockfile of the project the worker's entry belongs to (its folder is the project root,
   * unless {@link projectRoot} says otherwise). Relative paths resolve against the working directory.
   * @default the lockfile (`package-lock.json`, `pnpm-lock.yaml`, `yarn.lock`, `bun.lockb` or
   * `bun.lock`) of the nearest folder above {@link workerEntry} that holds one
   */
  readonly depsLockFilePath?: string;
  /**
   * The folder esbuild bundles the worker from: it must contain the entry and the lockfile (in a
   * monorepo, the workspace root). Relative paths resolve against the working directory.
   * @default the lockfile's folder
   */
  readonly projectRoot?: string;
  /**
   * Extra esbuild options for the worker's bundle, applied over spool's ({@link SpoolBundlingOptions}:
   * e.g. `nodeModules` for a native dependency, `esbuildArgs`).
   * @default none: `LAMBDA_BUNDLING` as is
   */
  readonly workerBundling?: SpoolBundlingOptions;
  /**
   * The worker's runtime: Node.js 22 or newer (`nodejs20.x` is deprecated in Lambda).
   * @default lambda.Runtime.NODEJS_24_X (the newest, as cdk-nag's AwsSolutions-L1 asks)
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The worker's memory, MiB (128–10,240). CPU grows with it.
   * @default 512
   */
  readonly workerMemorySizeMiB?: number;
  /**
   * The worker's timeout: the longest one batch may run (at most 15 minutes; spool's soft timeout
   * fires 3 s before it). Longer tasks belong to the long-running worker (`spool worker`).
   * @default Duration.seconds(60)
   */
  readonly workerTimeout?: Duration;
  /**
   * Extra environment variables of the worker (the `SPOOL_*` ones are set by the construct).
   * @default none
   */
  readonly workerEnvironment?: Readonly<Record<string, string>>;
  /**
   * Reserved concurrency of the worker: caps it and guarantees it. At least {@link maxConcurrency},
   * else the event source's invocations are throttled.
   * @default none (the account's unreserved pool)
   */
  readonly reservedConcurrency?: number;
  /**
   * How long the worker's log group keeps logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The level of the worker's Lambda platform lines (its log format is JSON, so that levels apply).
   * At `WARN`, the START, END and REPORT lines of every invocation are not written: ~400 bytes an
   * invocation of CloudWatch Logs ingestion. The Lambda's own metrics (Duration, Errors, Throttles)
   * do not come from them and stay; set `INFO` to have the REPORT lines (memory used, init duration).
   * @default lambda.SystemLogLevel.WARN
   */
  readonly workerSystemLogLevel?: lambda.SystemLogLevel;
  /**
   * The lowest level of the worker's own lines that Lambda keeps (Powertools' Logger follows it).
   * Lines without a `level`, such as Powertools' metrics (EMF), count as INFO: above INFO they
   * would be dropped, and the metrics with them.
   * @default lambda.ApplicationLogLevel.INFO
   */
  readonly workerApplicationLogLevel?: lambda.ApplicationLogLevel;
  /**
   * The task queue's visibility timeout: how long a received message stays hidden. At least the
   * worker's timeout (AWS refuses the event source otherwise); AWS recommends six times it, so that
   * retries of a throttled batch do not make the message visible again too early.
   * @default 6 × workerTimeout
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives after which SQS moves a message to the dead-letter queue. spool's worker dead-letters a
   * run itself when its retries are exhausted; this redrive is the safety net for messages that keep
   * crashing the worker.
   * @default 100
   */
  readonly maxReceiveCount?: number;
  /**
   * Messages per Lambda invocation, 1–10 (the SQS FIFO limit).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * The most concurrent worker invocations the event source makes, 2–1,000. Message groups run in
   * parallel up to this number.
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * A customer managed KMS key for both queues, the table, the blob bucket, the worker's log group
   * and the payloads of the schedules declared in `schedules`. Every grant then includes the key
   * operations its calls need, usable only through the service that calls KMS (`kms:ViaService`).
   * The construct adds a statement to the key policy that lets this region's CloudWatch Logs use
   * the key for this account's log groups. A key defined elsewhere (`Key.fromKeyArn`) has a key
   * policy CDK cannot change, so its policy must already allow that (a synthesis warning says so).
   * Without a key, the queues use SQS-managed SSE, the table the AWS managed key `aws/dynamodb`,
   * the bucket SSE-S3, and logs and schedules AWS owned keys.
   * @default SQS-managed SSE for the queues, the AWS managed key for the table, SSE-S3 for the bucket
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table and the blob bucket when they leave the stack. The queues are always
   * destroyed (a message outlives its run by minutes; the records are what matter). A bucket that
   * still holds blobs cannot be destroyed: empty it first (its lifecycle rules empty it in time).
   * @default RemovalPolicy.RETAIN (with deletion protection on)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Where the blob bucket (the claim-check: arguments, results and error messages too large for a
   * message or a record) writes its S3 server access logs, under the prefix `spool-blobs/`.
   * Without one, the bucket keeps no access logs (cdk-nag's AwsSolutions-S1, acknowledged by
   * `acknowledgeTaskQueueFindings` with the reason): every access is by spool's own roles, which
   * CloudTrail records.
   * @default no server access logs
   */
  readonly blobAccessLogsBucket?: s3.IBucket;
  /**
   * The age of the oldest queued message above which an alarm fires (the queue is falling behind).
   * @default Duration.minutes(5)
   */
  readonly oldestMessageAgeAlarmThreshold?: Duration;
  /**
   * Where alarms notify (alarm and OK actions). Use an encrypted topic whose key lets CloudWatch
   * publish (`cloudwatch.amazonaws.com`: `kms:GenerateDataKey*`, `kms:Decrypt`).
   * @default no actions (alarms show in the console and on the dashboard)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The name of the CloudWatch dashboard.
   * @default a name generated by CloudFormation
   */
  readonly dashboardName?: string;
  /**
   * Namespace of the worker's Powertools metrics (`new Metrics({ namespace })` in the worker entry).
   * @default 'spool'
   */
  readonly metricsNamespace?: string;
  /**
   * Service name of the worker's Powertools metrics (the `service` dimension).
   * @default 'spool-worker'
   */
  readonly metricsService?: string;
  /**
   * Recurring schedules declared in code (`defineSchedule`), deployed as EventBridge Scheduler
   * schedules in the task queue's schedule group. Rates must be whole minutes (Scheduler's
   * smallest); the construct refuses others at synthesis.
   * @default []
   */
  readonly schedules?: readonly Schedule[];
}

/** The defaults of {@link TaskQueueProps}: the only place they are written. */
export const TASK_QUEUE_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  workerMemorySizeMiB: 512,
  workerTimeout: Duration.seconds(60),
  logRetention: logs.RetentionDays.ONE_MONTH,
  workerSystemLogLevel: lambda.SystemLogLevel.WARN,
  workerApplicationLogLevel: lambda.ApplicationLogLevel.INFO,
  /** visibilityTimeout = this × workerTimeout. */
  visibilityTimeoutFactor: 6,
  /** The layout's (lib/aws/layout.ts), which provisioning uses too. */
  maxReceiveCount: SPOOL_LAYOUT.queue.maxReceiveCount,
  batchSize: MAX_BATCH,
  maxConcurrency: 10,
  removalPolicy: RemovalPolicy.RETAIN,
  oldestMessageAgeAlarmThreshold: Duration.minutes(5),
  metricsNamespace: 'spool',
  metricsService: 'spool-worker',
} as const;

/** Node.js major versions the worker may run on. */
export const MIN_NODE_MAJOR = 22;

/** Environment variables the construct sets itself (see `lib/aws/config.ts`). */
export const SPOOL_ENVIRONMENT_KEYS = [
  'SPOOL_QUEUE_URL',
  'SPOOL_DLQ_URL',
  'SPOOL_TABLE',
  'SPOOL_SCHEDULE_GROUP',
  'SPOOL_SCHEDULER_ROLE_ARN',
  'SPOOL_BUCKET',
] as const;

/** {@link TaskQueueProps} with every default applied. */
export interface ResolvedTaskQueueProps
  extends Required<
    Pick<
      TaskQueueProps,
      | 'runtime'
      | 'workerMemorySizeMiB'
      | 'workerTimeout'
      | 'workerEnvironment'
      | 'logRetention'
      | 'workerSystemLogLevel'
      | 'workerApplicationLogLevel'
      | 'visibilityTimeout'
      | 'maxReceiveCount'
      | 'batchSize'
      | 'maxConcurrency'
      | 'removalPolicy'
      | 'oldestMessageAgeAlarmThreshold'
      | 'metricsNamespace'
      | 'metricsService'
    >
  > {
  /** {@link TaskQueueProps.schedules}. */
  readonly schedules: readonly Schedule[];
  /**
   * The worker's code: {@link TaskQueueProps.workerEntry}, `workerCode`, `depsLockFilePath`,
   * `projectRoot` and `workerBundling`, with their paths resolved.
   */
  readonly worker: ResolvedFunctionSource;
  /** {@link TaskQueueProps.reservedConcurrency}; undefined: none. */
  readonly reservedConcurrency: number | undefined;
  /** {@link TaskQueueProps.encryptionKey}; undefined: SQS-managed SSE and the AWS managed table key. */
  readonly encryptionKey: kms.IKey | undefined;
  /** {@link TaskQueueProps.alarmTopic}; undefined: alarms without actions. */
  readonly alarmTopic: sns.ITopic | undefined;
  /** {@link TaskQueueProps.dashboardName}; undefined: generated. */
  readonly dashboardName: string | undefined;
  /** {@link TaskQueueProps.blobAccessLogsBucket}; undefined: no access logs. */
  readonly blobAccessLogsBucket: s3.IBucket | undefined;
}

/** Thrown by {@link resolveTaskQueueProps} with every broken rule. */
export class TaskQueuePropsError extends Error {
  override readonly name = 'TaskQueuePropsError';
  /** One message per broken rule. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid TaskQueue props:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** A rule: `broken` says whether the props break it (false for tokens), `message` explains how. */
export interface TaskQueueRule {
  /** Whether the props break the rule. */
  readonly broken: (p: ResolvedTaskQueueProps) => boolean;
  /** What was given, what is allowed, how to fix it. */
  readonly message: (p: ResolvedTaskQueueProps) => string;
}

const known = (n: number | undefined): n is number => n !== undefined && !Token.isUnresolved(n);
const knownDuration = (d: Duration): boolean => !d.isUnresolved();
const outside = (n: number | undefined, min: number, max: number) =>
  known(n) && (!Number.isInteger(n) || n < min || n > max);
const nodeMajor = (runtimeName: string) => /^nodejs(\d+)\.x$/.exec(runtimeName)?.[1];

/** The validation rules, one per constraint. */
export const TASK_QUEUE_RULES: readonly TaskQueueRule[] = [
  {
    broken: (p) => {
      const major = nodeMajor(p.runtime.name);
      return major === undefined || Number(major) < MIN_NODE_MAJOR;
    },
    message: (p) =>
      `runtime is ${p.runtime.name}: the worker needs Node.js ${MIN_NODE_MAJOR} or newer (nodejs20.x is deprecated in Lambda). ` +
      `Allowed: ${allowedRuntimes().join(', ')}. Pass one of those, or leave runtime out for ${TASK_QUEUE_DEFAULTS.runtime.name}.`,
  },
  {
    broken: (p) => outside(p.workerMemorySizeMiB, 128, 10_240),
    message: (p) =>
      `workerMemorySizeMiB is ${p.workerMemorySizeMiB}: Lambda allows whole numbers from 128 to 10240 MiB. ` +
      `Pass a value in that range (default ${TASK_QUEUE_DEFAULTS.workerMemorySizeMiB}).`,
  },
  {
    broken: (p) =>
      knownDuration(p.workerTimeout) &&
      (p.workerTimeout.toMilliseconds() < 1000 || p.workerTimeout.toMilliseconds() > 900_000),
    message: (p) =>
      `workerTimeout is ${p.workerTimeout.toHumanString()}: Lambda allows 1 second to 15 minutes. ` +
      'Pass a Duration in that range; run longer tasks with the long-running worker (`spool worker`).',
  },
  {
    broken: (p) =>
      knownDuration(p.visibilityTimeout) &&
      knownDuration(p.workerTimeout) &&
      p.visibilityTimeout.toSeconds() < p.workerTimeout.toSeconds(),
    message: (p) =>
      `visibilityTimeout is ${p.visibilityTimeout.toHumanString()}, shorter than workerTimeout (${p.workerTimeout.toHumanString()}): ` +
      'AWS refuses an SQS event source whose queue hides messages for less than the function may run. ' +
      `Pass a visibilityTimeout of at least ${p.workerTimeout.toHumanString()} (AWS recommends ${TASK_QUEUE_DEFAULTS.visibilityTimeoutFactor}×, the default), or leave it out.`,
  },
  {
    broken: (p) => knownDuration(p.visibilityTimeout) && p.visibilityTimeout.toSeconds() > MAX_VISIBILITY_SECONDS,
    message: (p) =>
      `visibilityTimeout is ${p.visibilityTimeout.toHumanString()}: SQS allows at most 12 hours. Pass a shorter Duration.`,
  },
  {
    broken: (p) => outside(p.maxReceiveCount, 1, MAX_REDRIVE_RECEIVE_COUNT),
    message: (p) =>
      `maxReceiveCount is ${p.maxReceiveCount}: SQS redrive allows whole numbers from 1 to ${MAX_REDRIVE_RECEIVE_COUNT}. ` +
      `Pass a value in that range (default ${TASK_QUEUE_DEFAULTS.maxReceiveCount}; spool dead-letters exhausted runs itself, so keep it high).`,
  },
  {
    broken: (p) => outside(p.batchSize, 1, MAX_BATCH),
    message: (p) =>
      `batchSize is ${p.batchSize}: an SQS FIFO event source takes 1 to ${MAX_BATCH} messages per batch. ` +
      `Pass a whole number from 1 to ${MAX_BATCH} (default ${TASK_QUEUE_DEFAULTS.batchSize}: the fewest invocations).`,
  },
  {
    broken: (p) => outside(p.maxConcurrency, 2, 1000),
    message: (p) =>
      `maxConcurrency is ${p.maxConcurrency}: the SQS event source's maximum concurrency is a whole number from 2 to 1000. ` +
      `Pass a value in that range (default ${TASK_QUEUE_DEFAULTS.maxConcurrency}).`,
  },
  {
    broken: (p) =>
      known(p.reservedConcurrency) &&
      (!Number.isInteger(p.reservedConcurrency) ||
        p.reservedConcurrency < 0 ||
        (known(p.maxConcurrency) && p.reservedConcurrency < p.maxConcurrency)),
    message: (p) =>
      `reservedConcurrency is ${p.reservedConcurrency}: it must be a whole number at least maxConcurrency (${p.maxConcurrency}), ` +
      'else Lambda throttles the event source and messages wait a whole visibility timeout. ' +
      `Pass reservedConcurrency ≥ ${p.maxConcurrency}, lower maxConcurrency, or leave reservedConcurrency out.`,
  },
  {
    broken: (p) => knownDuration(p.oldestMessageAgeAlarmThreshold) && p.oldestMessageAgeAlarmThreshold.toSeconds() < 60,
    message: (p) =>
      `oldestMessageAgeAlarmThreshold is ${p.oldestMessageAgeAlarmThreshold.toHumanString()}: SQS publishes the age once a minute, ` +
      'so a threshold under 1 minute alarms on ordinary traffic. Pass Duration.minutes(1) or more.',
  },
  {
    broken: (p) => Object.keys(p.workerEnvironment).some((k) => isSpoolKey(k) || k === 'NODE_OPTIONS'),
    message: (p) =>
      `workerEnvironment sets ${Object.keys(p.workerEnvironment)
        .filter((k) => isSpoolKey(k) || k === 'NODE_OPTIONS')
        .join(', ')}: the construct sets ${SPOOL_ENVIRONMENT_KEYS.join(', ')} and NODE_OPTIONS itself. ` +
      'Remove those keys from workerEnvironment.',
  },
  // The worker's code: workerEntry or workerCode, the entry, its lockfile and project root.
  ...functionSourceRules({
    entry: 'workerEntry',
    code: 'workerCode',
    handler: '`handler`, made with `createSqsHandler` of spool-tasks/lambda',
    example: 'functions/worker.ts',
  }).map((rule): TaskQueueRule => ({ broken: (p) => rule.broken(p.worker), message: (p) => rule.message(p.worker) })),
];

const isSpoolKey = (key: string) => (SPOOL_ENVIRONMENT_KEYS as readonly string[]).includes(key);

/** The Node.js runtimes the worker may use, from the ones this aws-cdk-lib knows. */
export function allowedRuntimes(): string[] {
  const names = lambda.Runtime.ALL.map((r) => r.name).filter((n) => Number(nodeMajor(n)) >= MIN_NODE_MAJOR);
  return [...new Set(names)].sort();
}

/**
 * Apply the defaults and check every rule. Throws a {@link TaskQueuePropsError} listing each broken
 * rule. Relative paths resolve against `cwd`.
 */
export function resolveTaskQueueProps(props: TaskQueueProps, cwd: string = process.cwd()): ResolvedTaskQueueProps {
  const d = TASK_QUEUE_DEFAULTS;
  const workerTimeout = props.workerTimeout ?? d.workerTimeout;
  const resolved: ResolvedTaskQueueProps = {
    worker: resolveFunctionSource(
      {
        entry: props.workerEntry,
        code: props.workerCode,
        depsLockFilePath: props.depsLockFilePath,
        projectRoot: props.projectRoot,
        bundling: props.workerBundling,
      },
      cwd,
    ),
    runtime: props.runtime ?? d.runtime,
    workerMemorySizeMiB: props.workerMemorySizeMiB ?? d.workerMemorySizeMiB,
    workerTimeout,
    workerEnvironment: props.workerEnvironment ?? {},
    reservedConcurrency: props.reservedConcurrency,
    logRetention: props.logRetention ?? d.logRetention,
    workerSystemLogLevel: props.workerSystemLogLevel ?? d.workerSystemLogLevel,
    workerApplicationLogLevel: props.workerApplicationLogLevel ?? d.workerApplicationLogLevel,
    // A token timeout cannot be multiplied at synthesis: the queue then hides messages exactly as long.
    visibilityTimeout:
      props.visibilityTimeout ??
      (workerTimeout.isUnresolved()
        ? workerTimeout
        : Duration.seconds(d.visibilityTimeoutFactor * workerTimeout.toSeconds())),
    maxReceiveCount: props.maxReceiveCount ?? d.maxReceiveCount,
    batchSize: props.batchSize ?? d.batchSize,
    maxConcurrency: props.maxConcurrency ?? d.maxConcurrency,
    encryptionKey: props.encryptionKey,
    removalPolicy: props.removalPolicy ?? d.removalPolicy,
    oldestMessageAgeAlarmThreshold: props.oldestMessageAgeAlarmThreshold ?? d.oldestMessageAgeAlarmThreshold,
    alarmTopic: props.alarmTopic,
    dashboardName: props.dashboardName,
    blobAccessLogsBucket: props.blobAccessLogsBucket,
    metricsNamespace: props.metricsNamespace ?? d.metricsNamespace,
    metricsService: props.metricsService ?? d.metricsService,
    schedules: props.schedules ?? [],
  };
  const problems = TASK_QUEUE_RULES.filter((rule) => rule.broken(resolved)).map((rule) => rule.message(resolved));
  if (problems.length > 0) throw new TaskQueuePropsError(problems);
  return resolved;
}
