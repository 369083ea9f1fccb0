/**
 * `spool provision`: create an app's task queue, dead-letter queue, table (with its index) and
 * schedule group on an AWS endpoint, from the one layout (`lib/aws/layout.ts`), and print the
 * environment `openAwsBackend()` reads. `spool provision --delete` removes them. Idempotent both
 * ways. The AWS SDK is loaded only when the command runs.
 *
 * @module
 */

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { prefixProblems, SPOOL_LAYOUT } from '../aws/layout.js';
import type { DeprovisionReport, ProvisionedResources } from '../aws/provision.js';
import {
  isLocalEndpoint,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LOCAL_SCHEDULER_ROLE,
  shellExports,
  writeEnvFile,
} from '../local/env.js';
import { importAwsModules } from '../peers.js';
import { MAX_REDRIVE_RECEIVE_COUNT, MAX_VISIBILITY_SECONDS } from '../protocol/limits.js';
import { integer, jsonOption } from './options.js';
import { type CliContext, CliError, EXIT, line, printJson, table } from './output.js';

interface ProvisionFlags {
  readonly prefix?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeout?: number;
  readonly schedulerRoleArn?: string;
  /** False with --no-scheduler. */
  readonly scheduler: boolean;
  /** --dotenv (not --env-file: Node 20 reads that flag itself, even after the script's name). */
  readonly dotenv?: string;
  readonly delete?: boolean;
  readonly json?: boolean;
}

/** The role ARN a local endpoint gets for the Scheduler (it checks no roles). */

const HELP = `
Creates, for the app with prefix <name>:
  <name>.fifo       the SQS FIFO task queue (high-throughput mode, SSE, redrive to the DLQ)
  <name>-dlq.fifo   the SQS FIFO dead-letter queue (14 days retention)
  <name>-tasks      the DynamoDB table (on-demand, TTL on ttl, index byState)
  <name>            the EventBridge Scheduler schedule group (unless --no-scheduler)
with the settings the CDK construct (spool-tasks/cdk) uses. Running it again changes nothing.

Where: --endpoint <url>, else AWS_ENDPOINT_URL, else the real AWS of your credentials and
AWS_REGION. On a local endpoint (127.0.0.1, localhost) the region defaults to us-east-1, the
credentials to test/test when none are set, and the Scheduler role to a placeholder.

Prints, on stdout, the environment openAwsBackend() reads (SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
SPOOL_TABLE, SPOOL_SCHEDULE_GROUP, SPOOL_SCHEDULER_ROLE_ARN, AWS_REGION, AWS_ENDPOINT_URL) as
export lines; what was made goes to stderr. On real AWS the schedule variables are printed only
with --scheduler-role-arn: a role EventBridge Scheduler may assume, allowed sqs:SendMessage on
the task queue.

--delete removes the queues, the table (its task records!) and the schedule group with its
schedules. SQS then needs 60 s before a queue name can be used again.

Examples:
  $ eval "$(spool provision --prefix myapp-dev --endpoint http://127.0.0.1:4566)"
  $ spool provision --prefix myapp-dev --dotenv .env.local   # then: node --env-file=.env.local …
  $ spool provision --prefix myapp-staging --region eu-west-1 --scheduler-role-arn arn:aws:iam::123456789012:role/myapp-scheduler
  $ spool provision --prefix myapp-dev --json
  $ spool provision --prefix myapp-dev --delete`;

/** Register `spool provision`. */
export function registerProvision(program: Command, ctx: CliContext): void {
  program
    .command('provision')
    .description(
      "Create (or, with --delete, remove) an app's SQS queues, DynamoDB table and schedule group; prints the environment to use them.",
    )
    .option('--prefix <name>', 'prefix of every resource name (required): letters, digits, - and _, e.g. myapp-dev')
    .option('--endpoint <url>', 'AWS endpoint, e.g. http://127.0.0.1:4566 (default: AWS_ENDPOINT_URL, else AWS)')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION; us-east-1 on a local endpoint)')
    .option(
      '--max-receive-count <n>',
      `receives before SQS redrives a message to the DLQ (default ${SPOOL_LAYOUT.queue.maxReceiveCount})`,
      integer(1, MAX_REDRIVE_RECEIVE_COUNT),
    )
    .option(
      '--visibility-timeout <s>',
      `the task queue's visibility timeout, seconds (default ${SPOOL_LAYOUT.queue.visibilityTimeoutSeconds})`,
      integer(0, MAX_VISIBILITY_SECONDS),
    )
    .option('--scheduler-role-arn <arn>', 'the role EventBridge Scheduler assumes to send to the queue')
    .option('--no-scheduler', 'make no schedule group (no schedules, no delays over 15 minutes)')
    .option('--dotenv <path>', 'also write the environment to this dotenv file (for node --env-file, docker compose)')
    .option('--delete', 'remove the resources instead (they must have this prefix)')
    .addOption(jsonOption())
    .addHelpText('after', HELP)
    .action(async (flags: ProvisionFlags) => {
      ctx.exit(await provision(ctx, flags));
    });
}

/** Where the command's clients go, and with which credentials. */
interface Target {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly local: boolean;
  /** Test credentials for a local endpoint when the environment has none. */
  readonly credentials: typeof LOCAL_CREDENTIALS | undefined;
}

function target(flags: ProvisionFlags): Target {
  const endpoint = flags.endpoint ?? (process.env.AWS_ENDPOINT_URL || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    throw new CliError(
      `--endpoint ${JSON.stringify(endpoint)} is not an http(s) URL. Pass one such as http://127.0.0.1:4566, or leave it out for AWS.`,
      EXIT.usage,
    );
  }
  const local = endpoint !== undefined && isLocalEndpoint(endpoint);
  const region =
    flags.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || (local ? LOCAL_REGION : undefined));
  if (region === undefined) {
    throw new CliError(
      'no AWS region: pass --region <region> (e.g. --region eu-west-1), or set AWS_REGION.',
      EXIT.usage,
    );
  }
  const hasCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID) || Boolean(process.env.AWS_PROFILE);
  return { endpoint, region, local, credentials: local && !hasCredentials ? LOCAL_CREDENTIALS : undefined };
}

async function provision(ctx: CliContext, flags: ProvisionFlags): Promise<number> {
  const prefix = flags.prefix;
  if (prefix === undefined || prefix === '') {
    throw new CliError(
      'spool provision needs --prefix <name>: the prefix of every resource name, such as --prefix myapp-dev ' +
        '(one per app and stage; --delete removes exactly the resources with that prefix).',
      EXIT.usage,
    );
  }
  const where = target(flags);
  const aws = await importAwsModules();
  const problems = prefixProblems(prefix);
  if (problems.length > 0) throw new CliError(`--prefix: ${problems.join(' ')}`, EXIT.usage);
  const clients = aws.backend.createClients({
    region: where.region,
    endpoint: where.endpoint,
    ...(where.credentials === undefined ? {} : { credentials: where.credentials }),
  });
  const place = where.endpoint ?? `AWS ${where.region}`;
  try {
    if (flags.delete === true) {
      const report = await aws.provision.deprovisionResources(
        {
          sqs: clients.sqs,
          dynamodb: clients.dynamodb,
          scheduler: clients.scheduler,
          ...(clients.s3 === undefined ? {} : { s3: clients.s3 }),
        },
        prefix,
      );
      if (flags.json === true)
        printJson(ctx.stdout, { prefix, endpoint: where.endpoint ?? null, region: where.region, deleted: report });
      else reportDeleted(ctx, report, place);
      return EXIT.ok;
    }
    const roleArn = flags.schedulerRoleArn ?? (where.local ? LOCAL_SCHEDULER_ROLE : undefined);
    const resources = await aws.provision.provisionResources(
      {
        sqs: clients.sqs,
        dynamodb: clients.dynamodb,
        scheduler: clients.scheduler,
        ...(clients.s3 === undefined ? {} : { s3: clients.s3 }),
      },
      {
        prefix,
        ...(flags.maxReceiveCount === undefined ? {} : { maxReceiveCount: flags.maxReceiveCount }),
        ...(flags.visibilityTimeout === undefined ? {} : { visibilityTimeoutSeconds: flags.visibilityTimeout }),
        ...(flags.scheduler ? { scheduler: { roleArn } } : {}),
      },
    );
    const env: Record<string, string> = {
      ...aws.provision.backendEnvironment(resources, where),
      ...(where.credentials === undefined
        ? {}
        : {
            AWS_ACCESS_KEY_ID: where.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: where.credentials.secretAccessKey,
          }),
    };
    if (flags.dotenv !== undefined) {
      writeEnvFile(resolve(ctx.cwd, flags.dotenv), env, `spool provision --prefix ${prefix} (${place})`);
    }
    if (flags.json === true) {
      printJson(ctx.stdout, {
        prefix,
        endpoint: where.endpoint ?? null,
        region: where.region,
        resources,
        environment: env,
      });
    } else {
      reportMade(ctx, resources, place, flags);
      ctx.stdout.write(shellExports(env));
    }
    return EXIT.ok;
  } finally {
    clients.sqs.destroy();
    clients.dynamodb.destroy();
    clients.scheduler.destroy();
    clients.s3?.destroy();
  }
}

function reportMade(ctx: CliContext, r: ProvisionedResources, place: string, flags: ProvisionFlags): void {
  const rows = [
    ['task queue', r.queueUrl],
    ['dead-letter queue', r.deadLetterQueueUrl],
    ['table', r.tableName],
    ...(r.bucketName === undefined ? [] : [['blob bucket', r.bucketName]]),
    ...(r.scheduleGroup === undefined ? [] : [['schedule group', r.scheduleGroup]]),
  ];
  ctx.stderr.write(`spool provision: ready on ${place} (created, or found as they were):\n`);
  ctx.stderr.write(table(['resource', 'name'], rows));
  if (r.scheduleGroup !== undefined && r.schedulerRoleArn === undefined) {
    line(
      ctx.stderr,
      `note: no --scheduler-role-arn, so SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN are not printed. For schedules and delays over 15 minutes, ` +
        `pass the ARN of a role EventBridge Scheduler (scheduler.amazonaws.com) may assume that allows sqs:SendMessage on ${r.queueArn}.`,
    );
  }
  if (flags.dotenv !== undefined) line(ctx.stderr, `wrote ${resolve(ctx.cwd, flags.dotenv)}`);
}

function reportDeleted(ctx: CliContext, report: DeprovisionReport, place: string): void {
  const rows = [
    ['task queue', report.queue.name, report.queue.outcome],
    ['dead-letter queue', report.deadLetterQueue.name, report.deadLetterQueue.outcome],
    ['table', report.table.name, report.table.outcome],
    ...(report.bucket === undefined ? [] : [['blob bucket', report.bucket.name, report.bucket.outcome]]),
    ...(report.scheduleGroup === undefined
      ? []
      : [['schedule group', report.scheduleGroup.name, report.scheduleGroup.outcome]]),
  ];
  ctx.stdout.write(`spool provision --delete on ${place}:\n`);
  ctx.stdout.write(table(['resource', 'name', 'outcome'], rows));
}
