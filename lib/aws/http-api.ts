/**
 * An HTTP API over a producer, for a Lambda function URL (payload format 2.0): enqueue a run of an
 * exposed task and read a run's status, as JSON. The function URL's IAM auth (SigV4) decides who may
 * call it (`infra/http-api.ts`); this module decides what each caller may do.
 *
 * | Request                        | Answer                                                              |
 * | ------------------------------ | ------------------------------------------------------------------- |
 * | `POST /tasks/{taskName}`       | 202 `{ id, task, existing, status: "/tasks/{id}" }`                  |
 * | `GET /tasks/{id}`              | 200 `{ id, task, state, attempt, result?, error?, progress?, … }` to the run's enqueuer, `{ id, state, note }` to anyone else |
 *
 * `POST`'s body is the task's arguments as JSON; the optional headers `Idempotency-Key` and
 * `X-Ordering-Key` are the enqueue options of the same names. Errors are JSON
 * `{ error, message, … }`: 400 (body not JSON, bad header or id, an ordering key the task does not
 * take, an enqueue option refused), 403 (no caller identity), 404 (a task not exposed, or no such
 * route), 405 (method), 409 (a unique task's lock kept changing hands: retry), 413 (message over the
 * queue's limit), 422 (arguments fail the task's schema), 500 (anything else; logged, never
 * described to the caller). A refused enqueue's answer also carries the spool error's `code`; its
 * status is chosen by that code ({@link HTTP_STATUS_BY_ERROR_CODE}, and the table in
 * `docs/errors.md`), never by its message. No answer repeats more than {@link MAX_ECHO} characters
 * of what the caller sent.
 *
 * ## Authorization
 * - **Who calls.** Every request must carry the caller's IAM identity, which Lambda puts in
 *   `requestContext.authorizer.iam` for a function URL with `AWS_IAM` auth; the caller's
 *   *principal* is its `userArn` (or what {@link HttpHandlerOptions.callerPrincipal} says). A request
 *   without one is refused with 403, whatever its route: the handler never serves an anonymous caller.
 * - **What may be enqueued.** Only the tasks named in {@link HttpHandlerOptions.expose}. Any other
 *   name, registered or not, answers 404 without naming any task. `expose` is required: a handler
 *   made without it throws a `ConfigurationError`, so a function that forgot it fails at init instead
 *   of exposing every task; `expose: {}` exposes none.
 * - **Idempotency keys are the caller's own.** A caller's `Idempotency-Key` is combined with its
 *   principal (a SHA-256 of both) before it makes the run id, so two principals sending the same key
 *   make two runs, and no caller can reach another's run through a key. A task exposed with
 *   `sharedIdempotencyKeys: true` takes the key as sent: every caller sending it gets the one run.
 *   Without the header, the task's own key (or its arguments) makes the id, as for any producer: two
 *   callers enqueueing the same order share the run, which is what that key is for.
 * - **Ordering keys only where allowed.** `X-Ordering-Key` is refused (400) unless the task is
 *   exposed with `orderingKeys: true`. Callers sending the same ordering key share one FIFO group:
 *   one's slow or failing run holds back the other's.
 * - **Results only for the enqueuer.** Each enqueue carries `enqueuedBy: <principal>`, and the run's
 *   record keeps it from its first claim. `GET /tasks/{id}` answers everything (task, attempt,
 *   result, error, progress, timestamps) only to that principal; anyone else gets `{ id, state,
 *   note }`, unless the task is exposed with `results: 'any-caller'`. A run with no record yet reads
 *   `queued` to everyone, as does an id never enqueued; a run another producer enqueued (no
 *   `enqueuedBy`) shows its state only. A run id from the task's own key is shared, and its result
 *   belongs to the principal whose enqueue the worker claimed first.
 *
 * ## Less trusted callers
 * The function URL suits callers you trust with an IAM policy (your own services, your operators).
 * For anyone else, do not grant them the URL; put Amazon API Gateway in front of the same function:
 * an **HTTP API** with a Lambda integration to `TaskQueueHttpApi.function`, payload format 2.0 and
 * its `$default` stage (the event is then the one this handler reads), and either an **IAM
 * authorizer** (the principal arrives in the same `authorizer.iam`) or a **JWT authorizer** (Amazon
 * Cognito user pools or any OIDC issuer; pass a `callerPrincipal` that reads the token's `sub`, so
 * that each user is its own principal). HTTP APIs throttle per route and stage. Usage plans with API
 * keys, and AWS WAF, attach to REST APIs and not to HTTP APIs (and a REST API sends payload format
 * 1.0, which this handler does not read): for WAF's rate-based rules, put a CloudFront distribution
 * with a WAF web ACL in front of the HTTP API (they limit only what passes through CloudFront). The
 * function URL can stay: it still answers only principals granted `grantInvokeUrl`.
 *
 * @example
 * ```ts
 * // functions/http.ts
 * export const handler = createHttpHandler(() => createApp({ backend: openAwsBackend() }), {
 *   expose: { 'orders.charge': {}, 'reports.monthly': { results: 'any-caller' } },
 * });
 * ```
 *
 * @module
 */

import { createHash } from 'node:crypto';
import type { TaskRecord } from '../backend/store.js';
import type { EnqueueOptions } from '../client/enqueue.js';
import type { Producer } from '../client/producer.js';
import { createLogger, type Logger } from '../log/logger.js';
import { isValidTaskId } from '../protocol/envelope.js';
import { TASK_ID_FORMAT } from '../protocol/ids.js';
import { ConfigurationError, hasErrorCode, isSpoolError, type SpoolErrorCode } from '../task/errors.js';
import type { LambdaContext as Context, FunctionUrlEvent as LambdaFunctionURLEvent } from './lambda-types.js';

/** The most characters of a caller's input (a path, a header, a parse error) an answer repeats. */
export const MAX_ECHO = 200;
/** The longest `Idempotency-Key` accepted, characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
/** The longest `X-Ordering-Key` accepted, characters (the SQS message group id's limit). */
export const MAX_ORDERING_KEY_LENGTH = 128;

/**
 * The status a refused enqueue answers with, by its spool error's code. 500 means "not the
 * caller's doing": the error is logged, and the answer does not describe it.
 */
export const HTTP_STATUS_BY_ERROR_CODE = {
  BACKEND_FAILURE: 500,
  BACKEND_UNREACHABLE: 500,
  NON_RETRIABLE: 500,
  RETRY_AFTER: 500,
  INVALID_CONFIGURATION: 500,
  INVALID_ARGUMENTS: 422,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_ENQUEUE_OPTION: 400,
  ARGUMENTS_NOT_JSON: 400,
  UNIQUE_LOCK_CONTENDED: 409,
  ENQUEUE_REFUSED: 400,
  TASK_FAILED: 500,
  INVALID_RESULT: 500,
  TIMEOUT: 500,
  HARD_TIMEOUT: 500,
  ATTEMPT_ABORTED: 500,
} as const satisfies Readonly<Record<SpoolErrorCode, number>>;

/** The `error` word of each status a refused enqueue answers with (500 is `InternalError`). */
const ERROR_WORD = {
  400: 'BadRequest',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  422: 'ValidationError',
} as const;

/** The path prefix of both routes. */
const PREFIX = '/tasks/';
const ROUTES = 'POST /tasks/{taskName} (enqueue; the body is the arguments as JSON) and GET /tasks/{id} (status)';

/** A function URL response as this handler builds it (a `LambdaFunctionURLResult`). */
export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text. */
  readonly body: string;
}

/** What `POST /tasks/{taskName}` answers (202). */
export interface EnqueueResponse {
  readonly id: string;
  readonly task: string;
  /** `true` when a `unique` task returned the run already queued or running instead of a new one. */
  readonly existing: boolean;
  /** The path to read the run's status at. */
  readonly status: string;
}

/**
 * What `GET /tasks/{id}` answers (200) to the principal that enqueued the run, to anyone for a task
 * exposed with `results: 'any-caller'`, and to anyone while the run has no record.
 */
export interface StatusResponse {
  readonly id: string;
  /** The task's name; `null` while the store has no record of the run. */
  readonly task: string | null;
  readonly state: TaskRecord['state'];
  readonly attempt: number;
  /** The handler's return value (`succeeded`). */
  readonly result?: unknown;
  /** The last error (`retrying`, `failed`, `dead`). */
  readonly error?: { readonly name: string; readonly message: string };
  /** The last value the handler passed to `ctx.progress()`. */
  readonly progress?: unknown;
  /** ISO 8601. */
  readonly createdAt?: string;
  /** ISO 8601. */
  readonly updatedAt?: string;
  /** Why the state is `queued` when the store has no record. */
  readonly note?: string;
}

/**
 * What `GET /tasks/{id}` answers (200) to a caller that may not read the run's details: another
 * principal than the one that enqueued it, for a task not exposed with `results: 'any-caller'`.
 */
export interface RestrictedStatusResponse {
  readonly id: string;
  readonly state: TaskRecord['state'];
  /** Why nothing else is shown. */
  readonly note: string;
}

/** The body of every error answer. */
export interface ErrorResponse {
  /**
   * A stable word for the status: `BadRequest`, `Forbidden`, `NotFound`, `MethodNotAllowed`,
   * `Conflict`, `PayloadTooLarge`, `ValidationError`, `InternalError`.
   */
  readonly error: string;
  /** The spool error's code, when the answer is a refused enqueue (see `docs/errors.md`). */
  readonly code?: SpoolErrorCode;
  /** What went wrong and how to fix it. */
  readonly message: string;
  readonly [extra: string]: unknown;
}

/**
 * What the HTTP API uses of a {@link Producer} (a `Spool` is one): the known tasks, `enqueue` and
 * `handle`. It reads nothing else.
 */
export type HttpProducer = Pick<Producer, 'tasks' | 'enqueue' | 'handle'>;

/** What the HTTP API serves: a producer (or a `Spool`), or a function making one on the first request. */
export type HttpProducerSource = HttpProducer | (() => HttpProducer | Promise<HttpProducer>);

/**
 * Who may read a run's details (`GET /tasks/{id}`): `'enqueuer'`, only the principal that
 * enqueued it; `'any-caller'`, every caller of the API (for results that are not secret, such as
 * a public report).
 */
export type ResultReaders = 'enqueuer' | 'any-caller';

/** How the HTTP API exposes one task: an entry of {@link HttpHandlerOptions.expose}. */
export interface ExposedTask {
  /**
   * Take `Idempotency-Key` as sent, so that every caller sending the same key gets the same run.
   * Otherwise the key is the caller's own: it is combined with the caller's principal, and two
   * principals sending one key make two runs. Turn this on only when the callers coordinate their
   * keys and trust each other with them: a caller that knows another's key reaches that caller's run.
   * The run's details still go to its first enqueuer only; add `results: 'any-caller'` for all of
   * them to read it.
   * @default false
   */
  readonly sharedIdempotencyKeys?: boolean;
  /**
   * Accept the `X-Ordering-Key` header (the enqueue option `orderingKey`: runs with one key start in
   * order, one at a time). Otherwise a request with the header is refused with 400. Callers sending
   * the same key share its FIFO group, so one caller's stuck run holds back the other's.
   * @default false
   */
  readonly orderingKeys?: boolean;
  /**
   * Who may read a run's task, attempt, result, error, progress and timestamps. Everyone else sees
   * `{ id, state, note }`.
   * @default 'enqueuer'
   */
  readonly results?: ResultReaders;
}

/** The defaults of {@link ExposedTask}, in one place. */
export const EXPOSED_TASK_DEFAULTS = {
  sharedIdempotencyKeys: false,
  orderingKeys: false,
  results: 'enqueuer',
} as const satisfies Required<ExposedTask>;

/** The principal of a request: the signer's IAM ARN (`requestContext.authorizer.iam.userArn`). */
export function iamPrincipal(event: LambdaFunctionURLEvent): string | undefined {
  return event.requestContext?.authorizer?.iam?.userArn;
}

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  /**
   * The tasks callers may enqueue, by name, each with how it is exposed ({@link ExposedTask}; `{}`
   * for the defaults: keys are the caller's own, no ordering keys, results for the enqueuer only).
   * A task not named here answers 404, registered or not, and no answer lists task names. Every
   * name must be a task of the producer: the first request checks, and fails with a logged
   * `ConfigurationError` (500) naming the unknown ones. Required: there is no "expose everything";
   * `{}` exposes nothing (`GET` still reads states).
   */
  readonly expose: Readonly<Record<string, ExposedTask>>;
  /**
   * The caller's principal: who owns its idempotency keys, who is recorded as `enqueuedBy` and who
   * may read its runs' details. Return `undefined` to refuse the request (403). Replace it when the
   * identity is elsewhere (an API Gateway JWT authorizer's claims), or to make the principal coarser:
   * with the default, each session of a role (`…:assumed-role/<role>/<session>`) is its own principal,
   * so a caller whose session name changes (an ECS task, an EC2 instance) cannot read the runs an
   * earlier session enqueued; dropping the session name makes the role the principal.
   * @example
   * ```ts
   * // The role, not the session: every session of the role reads the role's runs.
   * callerPrincipal: (event) => iamPrincipal(event)?.replace(/^(arn:[^:]+:sts::\d+:assumed-role\/[^/]+)\/.*$/, '$1'),
   * ```
   * @default {@link iamPrincipal}: the IAM ARN that signed the request
   */
  readonly callerPrincipal?: (event: LambdaFunctionURLEvent) => string | undefined;
  /**
   * Where unexpected errors are logged.
   * @default createLogger(): JSON lines on stderr at SPOOL_LOG_LEVEL (else info)
   */
  readonly logger?: Logger;
  /** Called at the start of each invocation (e.g. Powertools' `logger.addContext(context)`). */
  readonly onInvocation?: (context: Context) => void;
}

/**
 * Create the function URL handler over a producer, serving the tasks of `options.expose`. A
 * function source is called on the first request and what it makes is reused while the execution
 * environment lives; if making it fails (or it lacks an exposed task), the next request tries again.
 *
 * @throws ConfigurationError when `options.expose` is missing or one of its entries is invalid
 * (every problem at once): the Lambda fails at init rather than serve tasks nobody chose to expose.
 * @example
 * ```ts
 * // Only the contracts: the bundle holds no handler code and no worker.
 * export const handler = createHttpHandler(() => createProducer({ backend: openAwsBackend(), tasks: [chargeOrder] }), {
 *   expose: { 'orders.charge': { orderingKeys: true } },
 *   logger,
 * });
 * ```
 */
export function createHttpHandler(
  source: HttpProducerSource,
  options: HttpHandlerOptions,
): (event: LambdaFunctionURLEvent, context?: Context) => Promise<HttpResponse> {
  const exposed = resolveExpose(options);
  const logger = options.logger ?? createLogger();
  const principalOf = options.callerPrincipal ?? iamPrincipal;
  let producer: Promise<HttpProducer> | undefined;
  const load = (): Promise<HttpProducer> => {
    producer ??= Promise.resolve()
      .then(() => (typeof source === 'function' ? source() : source))
      .then((made) => checkExposedTasks(made, exposed))
      .catch((error: unknown) => {
        producer = undefined;
        throw error;
      });
    return producer;
  };
  return async (event, context) => {
    if (context !== undefined) options.onInvocation?.(context);
    const requestId = event.requestContext?.requestId ?? '';
    try {
      const principal = principalOf(event);
      if (principal === undefined || principal === '') {
        return reply(403, {
          error: 'Forbidden',
          message:
            'The request carries no caller identity (requestContext.authorizer.iam.userArn), so it is refused. ' +
            "Call the function URL with AWS_IAM auth (TaskQueueHttpApi's), signing the request with SigV4 (service lambda).",
        });
      }
      return await route({ spool: await load(), exposed, principal }, event);
    } catch (error) {
      logger.error('http api: request failed', {
        requestId,
        method: event.requestContext?.http?.method,
        path: clip(event.rawPath ?? ''),
        ...(isSpoolError(error) ? { code: error.code } : {}),
        error,
      });
      return reply(500, {
        error: 'InternalError',
        message: `The request failed because of an internal error (request id ${requestId || 'unknown'}); it has been logged. Retry later, and quote the request id if it persists.`,
        requestId,
      });
    }
  };
}

/** What one request is answered with: the producer, the exposed tasks, and who is asking. */
interface RequestScope {
  readonly spool: HttpProducer;
  readonly exposed: ReadonlyMap<string, Required<ExposedTask>>;
  /** The caller's principal (never empty). */
  readonly principal: string;
}

/** `options.expose` with the defaults applied, checked; throws a `ConfigurationError` listing every problem. */
function resolveExpose(options: HttpHandlerOptions | undefined): ReadonlyMap<string, Required<ExposedTask>> {
  const expose: unknown = options?.expose;
  if (expose === null || typeof expose !== 'object' || Array.isArray(expose)) {
    throw new ConfigurationError(
      `createHttpHandler: the option expose is ${describe(expose)}; it must name the tasks HTTP callers may enqueue, ` +
        `e.g. createHttpHandler(source, { expose: { 'orders.charge': {} } }). No task is exposed unless named there ` +
        '(there is no "expose everything"); pass expose: {} to expose none.',
    );
  }
  const problems: string[] = [];
  const exposed = new Map<string, Required<ExposedTask>>();
  for (const [name, entry] of Object.entries(expose as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(
        `expose[${JSON.stringify(name)}] is ${JSON.stringify(entry) ?? String(entry)}; it must be an object ({} for the defaults).`,
      );
      continue;
    }
    const { sharedIdempotencyKeys, orderingKeys, results } = entry as Record<string, unknown>;
    for (const [option, value] of [
      ['sharedIdempotencyKeys', sharedIdempotencyKeys],
      ['orderingKeys', orderingKeys],
    ] as const) {
      if (value !== undefined && typeof value !== 'boolean') {
        problems.push(
          `expose[${JSON.stringify(name)}].${option} is ${JSON.stringify(value)}; it must be true or false (default false).`,
        );
      }
    }
    if (results !== undefined && results !== 'enqueuer' && results !== 'any-caller') {
      problems.push(
        `expose[${JSON.stringify(name)}].results is ${JSON.stringify(results)}; it must be 'enqueuer' (the default) or 'any-caller'.`,
      );
    }
    const given = entry as ExposedTask;
    exposed.set(name, {
      sharedIdempotencyKeys: given.sharedIdempotencyKeys ?? EXPOSED_TASK_DEFAULTS.sharedIdempotencyKeys,
      orderingKeys: given.orderingKeys ?? EXPOSED_TASK_DEFAULTS.orderingKeys,
      results: given.results ?? EXPOSED_TASK_DEFAULTS.results,
    });
  }
  if (problems.length > 0)
    throw new ConfigurationError(`createHttpHandler: invalid expose option: ${problems.join(' ')}`);
  return exposed;
}

/** What a bad `expose` option is, in words. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** The producer, once every exposed name is one of its tasks (else a `ConfigurationError`, logged as a 500). */
function checkExposedTasks(spool: HttpProducer, exposed: ReadonlyMap<string, unknown>): HttpProducer {
  const unknown = [...exposed.keys()].filter((name) => !spool.tasks.has(name));
  if (unknown.length > 0) {
    throw new ConfigurationError(
      `createHttpHandler: expose names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, which the producer has no task of. ` +
        `Its tasks are: ${[...spool.tasks.keys()].sort().join(', ') || '(none)'}. Fix the names in expose, or add the tasks to the producer.`,
    );
  }
  return spool;
}

/** The idempotency key a caller's `Idempotency-Key` becomes: its own, unless the task shares keys. */
function scopedIdempotencyKey(key: string, principal: string, exposure: Required<ExposedTask>): string {
  if (exposure.sharedIdempotencyKeys) return key;
  // The principal's length first, so that no other principal and key hash the same; the hash keeps the key short.
  const hash = createHash('sha256').update(`${principal.length}:`).update(principal).update(key).digest('hex');
  return `caller:${hash}`;
}

/** Answer one request (throws only on unexpected errors, which become 500). */
async function route(scope: RequestScope, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
  const method = (event.requestContext?.http?.method ?? 'GET').toUpperCase();
  const rawPath = event.rawPath ?? event.requestContext?.http?.path ?? '/';
  const rest = rawPath.startsWith(PREFIX) ? rawPath.slice(PREFIX.length) : undefined;
  if (rest === undefined || rest === '') {
    return reply(404, {
      error: 'NotFound',
      message: `No route for ${clip(method)} ${JSON.stringify(clip(rawPath))}. The routes are ${ROUTES}.`,
    });
  }
  if (method !== 'GET' && method !== 'POST') {
    return reply(
      405,
      {
        error: 'MethodNotAllowed',
        message: `${clip(method)} is not allowed on ${JSON.stringify(clip(rawPath))}. Use ${ROUTES}.`,
      },
      { allow: 'GET, POST' },
    );
  }
  let segment: string;
  try {
    segment = decodeURIComponent(rest);
  } catch {
    return reply(400, {
      error: 'BadRequest',
      message: `The path ${JSON.stringify(clip(rawPath))} is not valid percent-encoding. Encode the task name or id with encodeURIComponent.`,
    });
  }
  return method === 'POST' ? enqueue(scope, segment, event) : status(scope, segment);
}

/** `POST /tasks/{taskName}`. */
async function enqueue(scope: RequestScope, taskName: string, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
  const { spool, principal } = scope;
  const exposure = scope.exposed.get(taskName);
  if (exposure === undefined) {
    // The same answer for a task that exists and one that does not: no catalog, no oracle.
    return reply(404, {
      error: 'NotFound',
      message:
        `No task of that name is exposed by this API: ${JSON.stringify(clip(taskName))}. ` +
        "Check the name; an operator exposes a task by naming it in createHttpHandler's expose option.",
    });
  }
  const task = spool.tasks.get(taskName);
  if (task === undefined)
    throw new ConfigurationError(`createHttpHandler: the exposed task '${taskName}' left the producer.`);

  const headers = lowerCaseHeaders(event.headers);
  if (headers['x-ordering-key'] !== undefined && !exposure.orderingKeys) {
    return reply(400, {
      error: 'BadRequest',
      message:
        `Task '${task.name}' takes no X-Ordering-Key from HTTP callers: it is not exposed with orderingKeys: true. ` +
        `Leave the header out, or have the operator set orderingKeys: true in its entry of the expose option.`,
    });
  }
  const enqueueOptions: { idempotencyKey?: string; orderingKey?: string } = {};
  for (const [header, option, max] of [
    ['idempotency-key', 'idempotencyKey', MAX_IDEMPOTENCY_KEY_LENGTH],
    ['x-ordering-key', 'orderingKey', MAX_ORDERING_KEY_LENGTH],
  ] as const) {
    const value = headers[header];
    if (value === undefined) continue;
    if (value.length === 0 || value.length > max) {
      return reply(400, {
        error: 'BadRequest',
        message: `The ${header} header is ${value.length} characters (${JSON.stringify(clip(value))}); it must be 1 to ${max}. Send a shorter key, or leave the header out.`,
      });
    }
    enqueueOptions[option] = option === 'idempotencyKey' ? scopedIdempotencyKey(value, principal, exposure) : value;
  }

  const text = bodyText(event);
  if (text.trim() === '') {
    return reply(400, {
      error: 'BadRequest',
      message: `The body is empty. Send the arguments of task '${task.name}' as JSON (null if it takes none), with content-type: application/json.`,
    });
  }
  let args: unknown;
  try {
    args = JSON.parse(text);
  } catch (error) {
    return reply(400, {
      error: 'BadRequest',
      message: `The body is not JSON: ${clip(error instanceof Error ? error.message : String(error))}. Send the arguments of task '${task.name}' as a JSON value.`,
    });
  }

  try {
    const handle = await spool.enqueue(task, args, {
      ...enqueueOptions,
      enqueuedBy: principal,
    } satisfies EnqueueOptions);
    const answer: EnqueueResponse = {
      id: handle.id,
      task: task.name,
      existing: handle.existing,
      status: `${PREFIX}${handle.id}`,
    };
    return reply(202, answer, { location: answer.status });
  } catch (error) {
    if (!isSpoolError(error)) throw error;
    // A code this copy of spool does not know (a newer copy's) is not the caller's doing either.
    const statusCode: number = HTTP_STATUS_BY_ERROR_CODE[error.code] ?? 500;
    if (!isCallerError(statusCode)) throw error;
    if (hasErrorCode(error, 'INVALID_ARGUMENTS')) {
      return reply(statusCode, {
        error: ERROR_WORD[statusCode],
        code: error.code,
        message: clip(error.message, 2000),
        issues: error.issues.slice(0, 50).map((i) => ({ path: clip(i.path), message: clip(i.message) })),
      });
    }
    return reply(statusCode, { error: ERROR_WORD[statusCode], code: error.code, message: clip(error.message, 1000) });
  }
}

/** Whether a status is one a refused enqueue answers with (else the error is the server's: 500). */
function isCallerError(statusCode: number): statusCode is keyof typeof ERROR_WORD {
  return Object.hasOwn(ERROR_WORD, statusCode);
}

/** `GET /tasks/{id}`: the details to the run's enqueuer (or anyone, for `results: 'any-caller'`), else the state. */
async function status({ spool, exposed, principal }: RequestScope, id: string): Promise<HttpResponse> {
  if (!isValidTaskId(id)) {
    return reply(400, {
      error: 'BadRequest',
      message: `${JSON.stringify(clip(id))} is not a task id: an id is ${TASK_ID_FORMAT}. Use the id a POST /tasks/{taskName} answered.`,
    });
  }
  const record = await spool.handle(id).info();
  if (record === undefined) {
    const answer: StatusResponse = {
      id,
      task: null,
      state: 'queued',
      attempt: 0,
      note:
        'The store has no record of this id yet. A run gets its record when a worker first starts it, so a run ' +
        'that is enqueued but not started reads as queued; so does an id never enqueued, or one whose record expired.',
    };
    return reply(200, answer);
  }
  const readers = record.task === undefined ? undefined : exposed.get(record.task)?.results;
  if (record.enqueuedBy !== principal && readers !== 'any-caller') {
    const restricted: RestrictedStatusResponse = {
      id: record.id,
      state: record.state,
      note: 'Only the principal that enqueued this run can read more than its state.',
    };
    return reply(200, restricted);
  }
  const answer: StatusResponse = {
    id: record.id,
    task: record.task ?? null,
    state: record.state,
    attempt: record.attempt,
    ...(record.result === undefined ? {} : { result: parseStored(record.result) }),
    ...(record.error === undefined ? {} : { error: { name: record.error.name, message: record.error.message } }),
    ...(record.progress === undefined ? {} : { progress: parseStored(record.progress) }),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
  return reply(200, answer);
}

/** A JSON answer. */
function reply(
  statusCode: number,
  body: EnqueueResponse | StatusResponse | RestrictedStatusResponse | ErrorResponse,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The request body as text (function URLs base64-encode bodies they consider binary). */
function bodyText(event: LambdaFunctionURLEvent): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** Headers by lower-case name (function URLs send them lower-case already). */
function lowerCaseHeaders(headers: LambdaFunctionURLEvent['headers'] | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

/** A stored JSON text as its value (the text itself if it is not JSON). */
function parseStored(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** At most `max` characters of `text`, with `…` when cut. */
function clip(text: string, max = MAX_ECHO): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
