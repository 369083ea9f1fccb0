/**
 * `spool-tasks/testing/local-aws`: a local AWS for an app's test suite. {@link startLocalAws}
 * starts the local endpoint (ministack on a free 127.0.0.1 port, from a project-local virtualenv)
 * unless `AWS_ENDPOINT_URL` or `endpoint` names one, provisions a uniquely prefixed set of spool's
 * resources on it, and hands back the environment `openAwsBackend()` reads;
 * {@link localAwsGlobalSetup} wraps it as a vitest globalSetup that sets that environment for the
 * test files and tears everything down afterwards. Needs the AWS SDK clients (optional peers).
 *
 * @example
 * ```ts
 * // test/aws-setup.ts
 * import { localAwsGlobalSetup } from 'spool-tasks/testing/local-aws';
 * export default localAwsGlobalSetup({ prefix: 'myapp-test' });
 *
 * // vitest.config.ts: test: { globalSetup: ['test/aws-setup.ts'] }
 *
 * // test/charge.test.ts: the environment is set, so openAwsBackend() finds everything.
 * import { openAwsBackend } from 'spool-tasks/aws';
 * const spool = createSpool({ backend: openAwsBackend(), tasks: [chargeOrder] });
 *
 * // or, without globalSetup, in one file:
 * const aws = await startLocalAws({ setEnv: false });
 * const backend = openAwsBackend({ ...aws.backendOptions });
 * await aws.stop();
 * ```
 *
 * The values are also provided to the test files as `inject('spoolAws')` (declare it:
 * `declare module 'vitest' { interface ProvidedContext { spoolAws: Record<string, string> } }`).
 *
 * @module
 */

import { join } from 'node:path';
import type { ProvisionedResources } from '../aws/provision.js';
import { findProjectRoot, localPaths } from '../local/endpoint.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, LOCAL_SCHEDULER_ROLE } from '../local/env.js';
import { installMinistack, type RunningEndpoint, startMinistack } from '../local/ministack.js';
import { freePort } from '../local/process.js';
import { importAwsModules } from '../peers.js';

/** A resource-name prefix no other run shares: `<base>-<time>-<random>`, for tests side by side. */
export function uniquePrefix(base = 'spool-test'): string {
  return `${base}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Options of {@link startLocalAws}. */
export interface LocalAwsOptions {
  /**
   * The resource-name prefix; a random suffix is added so suites can run side by side.
   * @default 'spool-test'
   */
  readonly prefix?: string;
  /**
   * A running endpoint to use (LocalStack, ministack). Nothing is started then.
   * @default env AWS_ENDPOINT_URL, else ministack started on a free loopback port
   */
  readonly endpoint?: string;
  /** @default env AWS_REGION, else 'us-east-1' */
  readonly region?: string;
  /**
   * The project root, where the virtualenv lives (`.spool/ministack/venv`).
   * @default the nearest directory with a package.json above the working directory
   */
  readonly root?: string;
  /** Another virtualenv with (or for) ministack. @default `<root>/.spool/ministack/venv` */
  readonly venv?: string;
  /**
   * Also set the environment in `process.env` (and set the test credentials when none are set).
   * @default true
   */
  readonly setEnv?: boolean;
  /** Progress lines (installing ministack). @default written to stderr */
  readonly log?: (line: string) => void;
}

/** A provisioned local AWS. */
export interface LocalAws {
  /** The endpoint URL. */
  readonly endpoint: string;
  readonly region: string;
  /** The prefix of the resources (with its random suffix). */
  readonly prefix: string;
  readonly resources: ProvisionedResources;
  /**
   * What `openAwsBackend()` reads: SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE,
   * SPOOL_SCHEDULE_GROUP, SPOOL_SCHEDULER_ROLE_ARN, AWS_REGION, AWS_ENDPOINT_URL, and the test
   * credentials AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The same as options of `openAwsBackend()`. Its clients take credentials from the environment:
   * with `setEnv: false`, set them yourself (a local endpoint takes any, e.g. {@link env}'s).
   */
  readonly backendOptions: {
    readonly queueUrl: string;
    readonly deadLetterQueueUrl: string;
    readonly tableName: string;
    readonly region: string;
    readonly endpoint: string;
    readonly scheduleGroup: string;
    readonly schedulerRoleArn: string;
  };
  /** The ministack this started, if it started one. */
  readonly started: RunningEndpoint | undefined;
  /** Delete the resources, stop what was started, and restore `process.env`. */
  stop(): Promise<void>;
}

/** The Scheduler role of a local endpoint (it checks none). */

/** Start (or find) a local endpoint and provision a uniquely prefixed set of spool's resources on it. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const region = options.region ?? (process.env.AWS_REGION || LOCAL_REGION);
  let started: RunningEndpoint | undefined;
  let endpoint = options.endpoint ?? (process.env.AWS_ENDPOINT_URL || undefined);
  if (endpoint === undefined) {
    const paths = localPaths(findProjectRoot(options.root ?? process.cwd()), options.venv);
    installMinistack({ venvDir: paths.venv, log });
    const port = await freePort();
    started = await startMinistack({ venvDir: paths.venv, port, logFile: join(paths.dir, `ministack-${port}.log`) });
    endpoint = started.endpoint;
  }
  try {
    const aws = await importAwsModules();
    const credentials = process.env.AWS_ACCESS_KEY_ID ? undefined : LOCAL_CREDENTIALS;
    const clients = aws.backend.createClients({
      region,
      endpoint,
      ...(credentials === undefined ? {} : { credentials }),
    });
    const prefix = uniquePrefix(options.prefix);
    const resources = await aws.provision.provisionResources(clients, {
      prefix,
      scheduler: { roleArn: LOCAL_SCHEDULER_ROLE },
    });
    const env: Record<string, string> = {
      ...aws.provision.backendEnvironment(resources, { region, endpoint }),
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || LOCAL_CREDENTIALS.secretAccessKey,
    };
    const saved = new Map(Object.keys(env).map((key) => [key, process.env[key]]));
    if (options.setEnv !== false) Object.assign(process.env, env);
    const running = started;
    return {
      endpoint,
      region,
      prefix,
      resources,
      env,
      backendOptions: {
        queueUrl: resources.queueUrl,
        deadLetterQueueUrl: resources.deadLetterQueueUrl,
        tableName: resources.tableName,
        region,
        endpoint,
        scheduleGroup: resources.scheduleGroup ?? prefix,
        schedulerRoleArn: LOCAL_SCHEDULER_ROLE,
      },
      started,
      async stop() {
        try {
          await aws.provision.deleteResources(clients, resources);
        } finally {
          clients.sqs.destroy();
          clients.dynamodb.destroy();
          clients.scheduler.destroy();
          clients.s3?.destroy();
          if (options.setEnv !== false) {
            for (const [key, value] of saved) {
              if (value === undefined) delete process.env[key];
              else process.env[key] = value;
            }
          }
          await running?.stop();
        }
      },
    };
  } catch (error) {
    await started?.stop();
    throw error;
  }
}

/** What vitest hands a globalSetup function (only what is used here). */
export interface GlobalSetupProject {
  provide(key: string, value: unknown): void;
}

/**
 * A vitest globalSetup (its default export): {@link startLocalAws} before the tests, with
 * `process.env` set for the test files and the environment provided as `inject('spoolAws')`;
 * everything deleted and stopped after them.
 */
export function localAwsGlobalSetup(
  options: LocalAwsOptions = {},
): (project?: GlobalSetupProject) => Promise<() => Promise<void>> {
  return async (project) => {
    const aws = await startLocalAws(options);
    project?.provide('spoolAws', aws.env);
    return () => aws.stop();
  };
}
