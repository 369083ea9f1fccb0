/**
 * An HTTP API over a producer, for a Lambda function URL (payload format 2.0): enqueue a run of a task
 * and read a run's status, as JSON. The function URL's IAM auth (SigV4) decides who may call it
 * (`infra/http-api.ts`); this module only routes, validates and answers.
 *
 * | Request                        | Answer                                                              |
 * | ------------------------------ | ------------------------------------------------------------------- |
 * | `POST /tasks/{taskName}`       | 202 `{ id, task, existing, status: "/tasks/{id}" }`                  |
 * | `GET /tasks/{id}`              | 200 `{ id, task, state, attempt, result?, error?, progress?, … }`    |
 *
 * `POST`'s body is the task's arguments as JSON; the optional headers `Idempotency-Key` and
 * `X-Ordering-Key` are the enqueue options of the same names. Errors are JSON
 * `{ error, message, … }`: 400 (body not JSON, bad header or id, an enqueue option refused), 404
 * (unknown task or route), 405 (method), 409 (a unique task's lock kept changing hands: retry), 413
 * (message over the queue's limit), 422 (arguments fail the task's schema), 500 (anything else;
 * logged, never described to the caller). A refused enqueue's answer also carries the spool error's
 * `code`; its status is chosen by that code ({@link HTTP_STATUS_BY_ERROR_CODE}, and the table in
 * `docs/errors.md`), never by its message. No answer repeats more than {@link MAX_ECHO} characters
 * of what the caller sent.
 *
 * @example
 * ```ts
 * // functions/http.ts
 * export const handler = createHttpHandler(() => createApp({ backend: openAwsBackend() }));
 * ```
 *
 * @module
 */

import type { TaskRecord } from '../backend/store.js';
import type { EnqueueOptions } from '../client/enqueue.js';
import type { Producer } from '../client/producer.js';
import { createLogger, type Logger } from '../log/logger.js';
import { isValidTaskId } from '../protocol/envelope.js';
import { TASK_ID_FORMAT } from '../protocol/ids.js';
import { hasErrorCode, isSpoolError, type SpoolErrorCode } from '../task/errors.js';
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

/** What `GET /tasks/{id}` answers (200). */
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

/** The body of every error answer. */
export interface ErrorResponse {
  /**
   * A stable word for the status: `BadRequest`, `NotFound`, `MethodNotAllowed`, `Conflict`,
   * `PayloadTooLarge`, `ValidationError`, `InternalError`.
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

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  /**
   * Where unexpected errors are logged.
   * @default createLogger(): JSON lines on stderr at SPOOL_LOG_LEVEL (else info)
   */
  readonly logger?: Logger;
  /** Called at the start of each invocation (e.g. Powertools' `logger.addContext(context)`). */
  readonly onInvocation?: (context: Context) => void;
}

/**
 * Create the function URL handler over a producer. A function source is called on the first
 * request and what it makes is reused while the execution environment lives; if making it fails,
 * the next request tries again.
 *
 * @example
 * ```ts
 * // Only the contracts: the bundle holds no handler code and no worker.
 * export const handler = createHttpHandler(() => createProducer({ backend: openAwsBackend(), tasks: [chargeOrder] }), {
 *   logger,
 * });
 * ```
 */
export function createHttpHandler(
  source: HttpProducerSource,
  options: HttpHandlerOptions = {},
): (event: LambdaFunctionURLEvent, context?: Context) => Promise<HttpResponse> {
  const logger = options.logger ?? createLogger();
  let producer: Promise<HttpProducer> | undefined;
  const load = (): Promise<HttpProducer> => {
    producer ??= Promise.resolve()
      .then(() => (typeof source === 'function' ? source() : source))
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
      return await route(await load(), event);
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

/** Answer one request (throws only on unexpected errors, which become 500). */
async function route(spool: HttpProducer, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
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
  return method === 'POST' ? enqueue(spool, segment, event) : status(spool, segment);
}

/** `POST /tasks/{taskName}`. */
async function enqueue(spool: HttpProducer, taskName: string, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
  const task = spool.tasks.get(taskName);
  if (task === undefined) {
    const known = [...spool.tasks.keys()].sort();
    return reply(404, {
      error: 'NotFound',
      message: `Unknown task ${JSON.stringify(clip(taskName))}: this app has no task of that name. Enqueue one of: ${known.join(', ') || '(none)'}.`,
      knownTasks: known,
    });
  }

  const headers = lowerCaseHeaders(event.headers);
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
    enqueueOptions[option] = value;
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
    const handle = await spool.enqueue(task, args, enqueueOptions satisfies EnqueueOptions);
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

/** `GET /tasks/{id}`. */
async function status(spool: HttpProducer, id: string): Promise<HttpResponse> {
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
  body: EnqueueResponse | StatusResponse | ErrorResponse,
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
