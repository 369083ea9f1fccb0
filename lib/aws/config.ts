/**
 * Configuration of the AWS backend, from options and the environment. Options win; each missing
 * setting is named with the variable and the option that set it.
 *
 * | setting | option | environment |
 * | --- | --- | --- |
 * | task queue URL (FIFO) | `queueUrl` | `SPOOL_QUEUE_URL` |
 * | dead-letter queue URL (FIFO) | `deadLetterQueueUrl` | `SPOOL_DLQ_URL` |
 * | DynamoDB table | `tableName` | `SPOOL_TABLE` |
 * | region | `region` | `AWS_REGION`, `AWS_DEFAULT_REGION` |
 * | endpoint (LocalStack, ministack) | `endpoint` | `AWS_ENDPOINT_URL` |
 * | EventBridge Scheduler schedule group (optional) | `scheduleGroup` | `SPOOL_SCHEDULE_GROUP` |
 * | role Scheduler assumes to send to the queue (optional) | `schedulerRoleArn` | `SPOOL_SCHEDULER_ROLE_ARN` |
 * | S3 bucket of blobs, the claim-check (optional) | `bucketName` | `SPOOL_BUCKET` |
 *
 * The scheduler settings go together: without them the backend has no scheduler (no delays over
 * 15 minutes, no `spool schedules`). Without a bucket the backend has no blob store: arguments must
 * fit a message (1 MiB) and results a record (400 KB).
 *
 * @module
 */

import { SCHEDULER_NAME_FORMAT, SCHEDULER_NAME_PATTERN } from '../protocol/ids.js';
import { ConfigurationError } from '../task/errors.js';

/** Where the AWS backend's resources are. */
export interface AwsBackendConfig {
  /** URL of the task queue, an SQS FIFO queue (`….fifo`). @default env SPOOL_QUEUE_URL */
  readonly queueUrl?: string;
  /** URL of its dead-letter queue, an SQS FIFO queue. @default env SPOOL_DLQ_URL */
  readonly deadLetterQueueUrl?: string;
  /** The DynamoDB table of task records. @default env SPOOL_TABLE */
  readonly tableName?: string;
  /** @default env AWS_REGION, else AWS_DEFAULT_REGION */
  readonly region?: string;
  /** A local endpoint such as `http://127.0.0.1:4566`. @default env AWS_ENDPOINT_URL, else AWS's own */
  readonly endpoint?: string;
  /** The EventBridge Scheduler schedule group spool owns. @default env SPOOL_SCHEDULE_GROUP */
  readonly scheduleGroup?: string;
  /** ARN of the role Scheduler assumes to send to the task queue. @default env SPOOL_SCHEDULER_ROLE_ARN */
  readonly schedulerRoleArn?: string;
  /**
   * The S3 bucket of blobs: arguments, results and error messages too large for a message or a
   * record (the claim-check). @default env SPOOL_BUCKET, else none (no values past those limits)
   */
  readonly bucketName?: string;
}

/** The resolved configuration: every setting present and checked. */
export interface ResolvedAwsConfig {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly tableName: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  /** Both scheduler settings, or `undefined` when neither is set. */
  readonly scheduler: { readonly group: string; readonly roleArn: string } | undefined;
  /** The bucket of blobs, or `undefined` when none is set. */
  readonly bucketName: string | undefined;
}

const SETTINGS = [
  { key: 'queueUrl', env: ['SPOOL_QUEUE_URL'], what: 'the URL of the task queue (an SQS FIFO queue)' },
  { key: 'deadLetterQueueUrl', env: ['SPOOL_DLQ_URL'], what: 'the URL of the dead-letter queue (an SQS FIFO queue)' },
  { key: 'tableName', env: ['SPOOL_TABLE'], what: 'the name of the DynamoDB table of task records' },
  { key: 'region', env: ['AWS_REGION', 'AWS_DEFAULT_REGION'], what: 'the AWS region' },
] as const;

/**
 * Resolve the configuration. Throws a {@link ConfigurationError} listing every missing or invalid
 * setting, with how to set each.
 */
export function resolveAwsConfig(
  options: AwsBackendConfig = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedAwsConfig {
  const problems: string[] = [];
  const values: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const fromEnv = setting.env.map((name) => env[name]).find((v) => v !== undefined && v !== '');
    const value = options[setting.key] ?? fromEnv;
    if (value === undefined || value === '') {
      problems.push(
        `${setting.key} is missing: ${setting.what}. Set ${setting.env.join(' or ')} in the environment, or pass { ${setting.key} } to openAwsBackend().`,
      );
    } else {
      values[setting.key] = value;
    }
  }
  for (const key of ['queueUrl', 'deadLetterQueueUrl'] as const) {
    const url = values[key];
    if (url !== undefined && !/^https?:\/\/\S+\.fifo$/.test(url)) {
      problems.push(
        `${key} is ${JSON.stringify(url)}: spool needs an SQS FIFO queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>.fifo).`,
      );
    }
  }
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    problems.push(`endpoint is ${JSON.stringify(endpoint)}: expected a URL such as http://127.0.0.1:4566.`);
  }
  const group = options.scheduleGroup ?? (env.SPOOL_SCHEDULE_GROUP || undefined);
  const roleArn = options.schedulerRoleArn ?? (env.SPOOL_SCHEDULER_ROLE_ARN || undefined);
  if ((group === undefined) !== (roleArn === undefined)) {
    problems.push(
      `${group === undefined ? 'scheduleGroup (SPOOL_SCHEDULE_GROUP)' : 'schedulerRoleArn (SPOOL_SCHEDULER_ROLE_ARN)'} is missing: the scheduler settings go together ` +
        '(the schedule group, and the role EventBridge Scheduler assumes to send to the queue). Set both, or neither to run without schedules and long delays.',
    );
  }
  if (group !== undefined && !SCHEDULER_NAME_PATTERN.test(group)) {
    problems.push(`scheduleGroup is ${JSON.stringify(group)}: a schedule group name is ${SCHEDULER_NAME_FORMAT}.`);
  }
  if (roleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/.test(roleArn)) {
    problems.push(
      `schedulerRoleArn is ${JSON.stringify(roleArn)}: expected an IAM role ARN (arn:aws:iam::<account>:role/<name>).`,
    );
  }
  const bucketName = options.bucketName ?? (env.SPOOL_BUCKET || undefined);
  if (bucketName !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketName)) {
    problems.push(
      `bucketName is ${JSON.stringify(bucketName)}: an S3 bucket name is 3–63 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit.`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`AWS backend configuration: ${problems.join(' ')}`);
  }
  return {
    queueUrl: values.queueUrl ?? '',
    deadLetterQueueUrl: values.deadLetterQueueUrl ?? '',
    tableName: values.tableName ?? '',
    region: values.region ?? '',
    endpoint,
    scheduler: group === undefined || roleArn === undefined ? undefined : { group, roleArn },
    bucketName,
  };
}

/** The ARN of an SQS queue from its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
export function queueArnOf(queueUrl: string, region: string): string {
  const [account, name] = new URL(queueUrl).pathname.split('/').filter(Boolean);
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  return `arn:${partition}:sqs:${region}:${account}:${name}`;
}
