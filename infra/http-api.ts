import { Duration, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  functionCode,
  functionSourceRules,
  type ResolvedFunctionSource,
  resolveFunctionSource,
  type SpoolBundlingOptions,
} from './function-code.js';
import type { ITaskQueue } from './task-queue.js';
import { allowedRuntimes, MIN_NODE_MAJOR } from './task-queue-props.js';

/**
 * Props of a {@link TaskQueueHttpApi}. The task queue and the function's code
 * ({@link TaskQueueHttpApiProps.entry} or {@link TaskQueueHttpApiProps.code}) are required.
 */
export interface TaskQueueHttpApiProps {
  /** The task queue the API enqueues to and reads results from. */
  readonly taskQueue: ITaskQueue;
  /**
   * The function's entry file: your module exporting `handler`, made with `createHttpHandler` of
   * `spool-tasks/lambda` over your app. Bundled like the worker (one CommonJS file, AWS SDK inside).
   * A relative path resolves against the working directory of the CDK app, as `NodejsFunction`'s
   * `entry` does. Required unless {@link code} is given.
   * @default none: pass this or `code`
   */
  readonly entry?: string;
  /**
   * Code to deploy instead of bundling {@link entry} (a bundle built elsewhere, or inline code in
   * unit tests). Its handler must be `index.handler`.
   * @default none: the bundle of `entry`
   */
  readonly code?: lambda.Code;
  /**
   * The lockfile of the project the entry belongs to. Relative paths resolve against the working
   * directory.
   * @default the lockfile (`package-lock.json`, `pnpm-lock.yaml`, `yarn.lock`, `bun.lockb` or
   * `bun.lock`) of the nearest folder above {@link entry} that holds one
   */
  readonly depsLockFilePath?: string;
  /**
   * The folder esbuild bundles from: it must contain the entry and the lockfile.
   * @default the lockfile's folder
   */
  readonly projectRoot?: string;
  /**
   * Extra esbuild options for the function's bundle, applied over spool's
   * ({@link SpoolBundlingOptions}).
   * @default none: `LAMBDA_BUNDLING` as is
   */
  readonly bundling?: SpoolBundlingOptions;
  /**
   * The function's runtime: Node.js 22 or newer.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The function's memory, MiB (128–10,240).
   * @default 256
   */
  readonly memorySizeMiB?: number;
  /**
   * The function's timeout (1 second to 15 minutes). A request waits for one enqueue or one read.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's log group keeps logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Reserved concurrency of the function: at most this many requests run at once, and these are
   * kept for it. Without a cap, one caller (a retry loop, a flood of enqueues) could take the
   * account's unreserved concurrency, which the worker (unless it has its own
   * `reservedConcurrency`) and every other function of the account share, and stall them. Requests
   * over the cap get 429 from Lambda (`TooManyRequestsException`) before the function runs; callers
   * retry with backoff. One request is one enqueue or one read (tens of milliseconds), so 10 serve a
   * few hundred requests a second. Lambda keeps at least 100 of the account's concurrency unreserved:
   * in an account whose quota is lower than 100 plus this (new accounts may start low), ask Service
   * Quotas for more. A whole number, at least 1.
   * @default 10
   */
  readonly reservedConcurrency?: number;
}

/** The defaults of {@link TaskQueueHttpApiProps}. */
export const TASK_QUEUE_HTTP_API_DEFAULTS = {
  runtime: lambda.Runtime.NODEJS_24_X,
  memorySizeMiB: 256,
  timeout: Duration.seconds(10),
  logRetention: logs.RetentionDays.ONE_MONTH,
  reservedConcurrency: 10,
} as const;

/** Thrown by {@link TaskQueueHttpApi} with every broken rule of its props. */
export class TaskQueueHttpApiPropsError extends Error {
  override readonly name = 'TaskQueueHttpApiPropsError';
  /** One message per broken rule. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid TaskQueueHttpApi props:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/**
 * An HTTP API for a task queue: a Lambda function URL with **IAM auth** (`AWS_IAM`, buffered) in
 * front of a function that enqueues runs and reads their status. The function (arm64, X-Ray, its
 * own role and log group, bundled like the worker, reserved concurrency 10 by default) is bound to
 * the queue and holds exactly `grantEnqueue` without delays (no Scheduler permission) and
 * `grantReadResults`. Callers need {@link grantInvokeUrl} and sign each request with SigV4 (service
 * `lambda`); an unsigned or unauthorized request gets 403 from Lambda before the function runs.
 *
 * Routes (JSON in, JSON out, `content-type: application/json`):
 * - `POST /tasks/{taskName}` — the body is the task's arguments; optional headers `Idempotency-Key`
 *   and `X-Ordering-Key`. → 202 `{ "id", "task", "existing", "status": "/tasks/{id}" }`; 400 body not
 *   JSON, bad header, or `X-Ordering-Key` for a task that does not take one; 404 a task not exposed
 *   (naming no task); 413 message too large, 422 arguments fail the schema (with `issues`), 500
 *   anything else (logged).
 * - `GET /tasks/{id}` → 200 `{ "id", "task", "state", "attempt", "result"?, "error"?, "progress"?,
 *   "createdAt"?, "updatedAt"? }` to the principal that enqueued the run, `{ "id", "state", "note" }`
 *   to any other; `state: "queued"` with a `note` while the run has no record yet; 400 invalid id.
 * - Either route without a caller identity → 403.
 *
 * Authorization (the entry's `createHttpHandler` options, `spool-tasks/lambda`): IAM decides who
 * may call the URL at all; the handler decides what each caller may do.
 * - Only the tasks listed in `expose` can be enqueued; `expose` is required (a handler without it
 *   fails at init), and `{}` exposes none.
 * - The caller's principal is the IAM ARN that signed the request. Its `Idempotency-Key` values are
 *   its own (hashed with the principal) unless the task is exposed with `sharedIdempotencyKeys`;
 *   `X-Ordering-Key` needs `orderingKeys: true`.
 * - Every enqueue records the principal (`enqueuedBy`); a run's details are shown to it only,
 *   unless the task is exposed with `results: 'any-caller'`.
 * - {@link TaskQueueHttpApiProps.reservedConcurrency} caps how much of the account's concurrency
 *   the callers together can take.
 *
 * For callers you trust less than an IAM policy's holder, do not grant the URL: put API Gateway in
 * front of its `function` — an HTTP API (payload format 2.0, `$default` stage, which the handler
 * reads as a function URL's request) with an IAM authorizer, or a JWT authorizer (Amazon Cognito or
 * any OIDC issuer) and a `callerPrincipal` option reading the token's `sub`; it throttles per route.
 * Usage plans, API keys and AWS WAF attach to REST APIs, not HTTP APIs (and a REST API's payload
 * format 1.0 is not what the handler reads): for WAF rate-based rules, front the HTTP API with a
 * CloudFront distribution and a web ACL. See `docs/http-api.md`.
 *
 * @example
 * In the stack:
 * ```ts
 * const tasks = new TaskQueue(stack, 'Tasks', { workerEntry: 'functions/worker.ts' });
 * const api = new TaskQueueHttpApi(stack, 'Api', { taskQueue: tasks, entry: 'functions/http.ts' });
 * api.grantInvokeUrl(callerRole);   // lambda:InvokeFunctionUrl (+ lambda:InvokeFunction via the URL)
 * new CfnOutput(stack, 'HttpApiUrl', { value: api.url });
 * ```
 * The entry (`functions/http.ts`):
 * ```ts
 * export const handler = createHttpHandler(() => createSpool({ backend: openAwsBackend(), tasks }), {
 *   expose: { 'orders.charge': {} },
 * });
 * ```
 * Calling it from a shell with [awscurl](https://github.com/okigan/awscurl) (credentials of a
 * principal granted {@link grantInvokeUrl}; `$URL` ends with `/`):
 * ```sh
 * awscurl --service lambda --region "$AWS_REGION" -X POST \
 *   -H 'content-type: application/json' -H 'Idempotency-Key: order-o-1' \
 *   -d '{"orderId":"o-1","amountCents":1200}' "${URL}tasks/orders.charge"
 * # 202 {"id":"5c0f…","task":"orders.charge","existing":false,"status":"/tasks/5c0f…"}
 * awscurl --service lambda --region "$AWS_REGION" "${URL}tasks/5c0f…"
 * # 200 {"id":"5c0f…","task":"orders.charge","state":"succeeded","attempt":1,"result":{"chargeId":"ch_…"},…}
 * ```
 * Calling it from TypeScript with the SDK's signer (`@smithy/signature-v4`, `@aws-crypto/sha256-js`,
 * `@aws-sdk/credential-provider-node`):
 * ```ts
 * const url = new URL('tasks/orders.charge', process.env.SPOOL_HTTP_API_URL);
 * const body = JSON.stringify({ orderId: 'o-1', amountCents: 1200 });
 * const signer = new SignatureV4({ service: 'lambda', region, credentials: defaultProvider(), sha256: Sha256 });
 * const signed = await signer.sign({
 *   method: 'POST', protocol: 'https:', hostname: url.hostname, path: url.pathname, body,
 *   headers: { host: url.hostname, 'content-type': 'application/json' },
 * });
 * const res = await fetch(url, { method: 'POST', headers: signed.headers, body });
 * const { id, status } = await res.json(); // then GET new URL(status.slice(1), baseUrl), signed the same way
 * ```
 * (`aws lambda invoke` calls the function directly, not through the URL, and does not exercise
 * the URL's auth or its routes.)
 */
export class TaskQueueHttpApi extends Construct {
  /** The function behind the URL. */
  readonly function: lambda.Function;
  /** The function's role: logs, X-Ray, `grantEnqueue` (without delays) and `grantReadResults`, nothing else. */
  readonly role: iam.Role;
  /** The function's log group. */
  readonly logGroup: logs.LogGroup;
  /** The function URL (`AWS_IAM` auth, buffered). */
  readonly functionUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: TaskQueueHttpApiProps) {
    super(scope, id);
    const runtime = props.runtime ?? TASK_QUEUE_HTTP_API_DEFAULTS.runtime;
    const memorySize = props.memorySizeMiB ?? TASK_QUEUE_HTTP_API_DEFAULTS.memorySizeMiB;
    const timeout = props.timeout ?? TASK_QUEUE_HTTP_API_DEFAULTS.timeout;
    const source = resolveFunctionSource({
      entry: props.entry,
      code: props.code,
      depsLockFilePath: props.depsLockFilePath,
      projectRoot: props.projectRoot,
      bundling: props.bundling,
    });
    const reservedConcurrency = props.reservedConcurrency ?? TASK_QUEUE_HTTP_API_DEFAULTS.reservedConcurrency;
    validate(source, runtime, memorySize, timeout, reservedConcurrency);

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `spool HTTP API of ${this.node.path}: enqueue and read results only`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? TASK_QUEUE_HTTP_API_DEFAULTS.logRetention,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...functionCode(source),
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      reservedConcurrentExecutions: reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      description: 'spool HTTP API: POST /tasks/{taskName} enqueues, GET /tasks/{id} reads the status',
    });
    props.taskQueue.bindTo(this.function);
    // Its routes never delay a run: no Scheduler permission, no iam:PassRole.
    props.taskQueue.grantEnqueue(this.function, { delays: false });
    props.taskQueue.grantReadResults(this.function);

    this.functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
  }

  /** The URL, `https://<id>.lambda-url.<region>.on.aws/` (with the trailing slash). */
  get url(): string {
    return this.functionUrl.url;
  }

  /**
   * Let `grantee` call the URL: `lambda:InvokeFunctionUrl` on the function with the condition
   * `lambda:FunctionUrlAuthType = AWS_IAM`, and `lambda:InvokeFunction` with
   * `lambda:InvokedViaFunctionUrl = true` (function URLs made since October 2025 need both; the
   * second still allows no direct invoke). A principal of this account gets an identity policy;
   * another account or a service, a statement in the function's resource policy.
   */
  grantInvokeUrl(grantee: iam.IGrantable): iam.Grant {
    return this.functionUrl.grantInvokeUrl(grantee);
  }
}

/** The rules of the function's code props, with this construct's prop names. */
const SOURCE_RULES = functionSourceRules({
  entry: 'entry',
  code: 'code',
  handler: '`handler`, made with `createHttpHandler` of spool-tasks/lambda',
  example: 'functions/http.ts',
});

/** Check the props; throws a {@link TaskQueueHttpApiPropsError} listing every problem. */
function validate(
  source: ResolvedFunctionSource,
  runtime: lambda.Runtime,
  memorySize: number,
  timeout: Duration,
  reservedConcurrency: number,
) {
  const problems: string[] = [];
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (major === undefined || Number(major) < MIN_NODE_MAJOR) {
    problems.push(
      `runtime is ${runtime.name}: the HTTP API needs Node.js ${MIN_NODE_MAJOR} or newer. ` +
        `Allowed: ${allowedRuntimes().join(', ')}. Pass one of those, or leave runtime out for ${TASK_QUEUE_HTTP_API_DEFAULTS.runtime.name}.`,
    );
  }
  if (!Token.isUnresolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240)) {
    problems.push(
      `memorySizeMiB is ${memorySize}: Lambda allows whole numbers from 128 to 10240 MiB. ` +
        `Pass a value in that range (default ${TASK_QUEUE_HTTP_API_DEFAULTS.memorySizeMiB}).`,
    );
  }
  if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 1000 || timeout.toMilliseconds() > 900_000)) {
    problems.push(
      `timeout is ${timeout.toHumanString()}: Lambda allows 1 second to 15 minutes. Pass a Duration in that range ` +
        `(default ${TASK_QUEUE_HTTP_API_DEFAULTS.timeout.toHumanString()}).`,
    );
  }
  if (!Token.isUnresolved(reservedConcurrency) && (!Number.isInteger(reservedConcurrency) || reservedConcurrency < 1)) {
    problems.push(
      `reservedConcurrency is ${reservedConcurrency}: it must be a whole number, at least 1 (the most requests the ` +
        `API serves at once). Pass one, or leave it out for ${TASK_QUEUE_HTTP_API_DEFAULTS.reservedConcurrency}.`,
    );
  }
  for (const rule of SOURCE_RULES) if (rule.broken(source)) problems.push(rule.message(source));
  if (problems.length > 0) throw new TaskQueueHttpApiPropsError(problems);
}
