/**
 * The example CDK app: `SpoolExampleStack` deploys the example tasks (`examples/orders`) — a
 * {@link TaskQueue} whose worker is `functions/worker.ts`, an example producer Lambda
 * (`functions/producer.ts`) that enqueues `orders.charge`, and (unless `httpApi: false`) the HTTP
 * API, a function URL with IAM auth (`functions/http.ts`, {@link TaskQueueHttpApi}). cdk-nag's AwsSolutions checks run on
 * every synthesis (`infra/nag.ts`); an unacknowledged finding fails it.
 *
 * It uses the constructs as an app that installed `spool-tasks` would, naming each function's entry
 * (here by its path in this repo, so that synthesis works from any working directory). Its entries
 * import `spool-tasks`, `spool-tasks/aws` and `spool-tasks/lambda`; the bundles resolve those to
 * this repo's sources (the `spool-source` export condition), as the tests and `tsc` do.
 *
 * ```sh
 * npm run synth          # cdk synth --quiet: offline, environment-agnostic
 * npx cdk deploy         # with credentials (or cdklocal against a local endpoint)
 * ```
 *
 * @module
 */

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type AppProps, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  LAMBDA_BUNDLING,
  type SpoolBundlingOptions,
  TaskQueue,
  TaskQueueHttpApi,
  type TaskQueueProps,
} from 'spool-tasks/cdk';
import { defineOrderSchedules, defineOrderTasks } from '../examples/orders/app.js';
import { FakePayments, FlakyMail } from '../examples/orders/providers.js';
import { acknowledgeExampleFindings, checkWithCdkNag } from './nag.js';

/** This repo's root: the example's entries are its `functions/`. */
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** An entry of the example, by its path in this repo. */
const exampleEntry = (name: string) => join(PROJECT_ROOT, 'functions', name);

/**
 * The example's bundles resolve `spool-tasks` to this repo's sources: an app that installed the
 * package needs none of this (its bundles resolve `spool-tasks` to the package's dist/).
 */
const EXAMPLE_BUNDLING = { esbuildArgs: { '--conditions': 'spool-source' } } as const satisfies SpoolBundlingOptions;

/** Providers for defining the example's tasks at synthesis (their handlers never run here). */
const exampleProviders = () => ({ payments: new FakePayments(), mail: new FlakyMail() });

/** Props of {@link SpoolExampleStack}. */
export interface SpoolExampleStackProps extends StackProps {
  /**
   * Props of the task queue (tests pass `workerCode` to skip bundling).
   * @default the TaskQueue defaults, with `functions/worker.ts` as the worker's entry
   */
  readonly taskQueue?: TaskQueueProps;
  /**
   * Whether to deploy the HTTP API ({@link TaskQueueHttpApi}: a function URL with IAM auth to enqueue
   * runs and read their status) and its `HttpApiUrl` output.
   * @default true
   */
  readonly httpApi?: boolean;
}

/** The example tasks on AWS: the task queue with its worker, and a producer function. */
export class SpoolExampleStack extends Stack {
  /** The task queue, its table and its worker. */
  readonly tasks: TaskQueue;
  /** The example producer: `{ orderId, amountCents }` → `{ taskId }`. */
  readonly producer: lambda.Function;
  /** The HTTP API, unless the stack was made with `httpApi: false`. */
  readonly httpApi: TaskQueueHttpApi | undefined;

  constructor(scope: Construct, id: string, props: SpoolExampleStackProps = {}) {
    super(scope, id, {
      description: 'spool example: an SQS FIFO task queue, its DynamoDB table, the worker and a producer Lambda',
      ...props,
    });
    // The example's schedules (the same definitions its workers use); pass your app's own.
    this.tasks = new TaskQueue(this, 'Tasks', {
      schedules: defineOrderSchedules(defineOrderTasks(exampleProviders())),
      ...(props.taskQueue?.workerCode === undefined
        ? { workerEntry: exampleEntry('worker.ts'), workerBundling: EXAMPLE_BUNDLING }
        : {}),
      ...props.taskQueue,
    });

    // The producer's own role and log group: no managed policy, only what it is granted below.
    const role = new iam.Role(this, 'ProducerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'spool example producer: enqueue and read results only',
    });
    const logGroup = new logs.LogGroup(this, 'ProducerLogs', { retention: logs.RetentionDays.ONE_MONTH });
    logGroup.grantWrite(role);
    this.producer = new nodejs.NodejsFunction(this, 'Producer', {
      entry: exampleEntry('producer.ts'),
      handler: 'handler',
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      projectRoot: PROJECT_ROOT,
      bundling: { ...LAMBDA_BUNDLING, ...EXAMPLE_BUNDLING },
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      role,
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      description: 'spool example producer: enqueues orders.charge',
    });
    this.tasks.bindTo(this.producer);
    this.tasks.grantEnqueue(this.producer);
    this.tasks.grantReadResults(this.producer);

    this.httpApi =
      props.httpApi === false
        ? undefined
        : new TaskQueueHttpApi(this, 'HttpApi', {
            taskQueue: this.tasks,
            entry: exampleEntry('http.ts'),
            bundling: EXAMPLE_BUNDLING,
          });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('QueueUrl', this.tasks.queue.queueUrl, 'SPOOL_QUEUE_URL: the SQS FIFO task queue');
    output('DeadLetterQueueUrl', this.tasks.deadLetterQueue.queueUrl, 'SPOOL_DLQ_URL: the dead-letter queue');
    output('TableName', this.tasks.table.tableName, 'SPOOL_TABLE: the DynamoDB table of task records');
    output('BucketName', this.tasks.bucket.bucketName, 'SPOOL_BUCKET: the S3 bucket of blobs (the claim-check)');
    output('WorkerFunctionName', this.tasks.worker.functionName, 'The worker Lambda');
    output('ProducerFunctionName', this.producer.functionName, 'The example producer Lambda');
    output('ScheduleGroup', this.tasks.scheduling.groupName, 'SPOOL_SCHEDULE_GROUP: the EventBridge Scheduler group');
    output(
      'SchedulerRoleArn',
      this.tasks.scheduling.role.roleArn,
      'SPOOL_SCHEDULER_ROLE_ARN: the role Scheduler assumes',
    );
    output('DashboardName', this.tasks.monitoring.dashboard.dashboardName, 'The CloudWatch dashboard');
    if (this.httpApi !== undefined) {
      output(
        'HttpApiUrl',
        this.httpApi.url,
        'The HTTP API (IAM auth, SigV4 service "lambda"): POST /tasks/{task}, GET /tasks/{id}',
      );
    }
  }
}

/**
 * Build the example app: the stack, cdk-nag's AwsSolutions checks, and the acknowledged findings.
 * `cdk synth` runs this file, which synthesizes the app; tests call it with the context of cdk.json.
 */
export function buildExampleApp(props: AppProps = {}): { app: App; stack: SpoolExampleStack } {
  const app = new App(props);
  const stack = new SpoolExampleStack(app, 'SpoolExampleStack');
  checkWithCdkNag(app);
  acknowledgeExampleFindings(stack);
  return { app, stack };
}

// Synthesize only when run as the CDK app (`npx tsx infra/app.ts`), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildExampleApp().app.synth();
}
