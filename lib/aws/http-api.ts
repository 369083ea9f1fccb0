/**
 * An HTTP API over an app, for a Lambda function URL (payload format 2.0): enqueue a run of a task
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
 * `{ error, message, … }`: 400 (body not JSON, bad header or id), 404 (unknown task or route), 405
 * (method), 413 (message over the queue's limit), 422 (arguments fail the task's schema), 500
 * (anything else; logged, never described to the caller). No answer repeats more than
 * {@link MAX_ECHO} characters of what the caller sent.
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
import type { Spool } from '../client/spool.js';
import type { Logger } from '../log/logger.js';
import { isValidTaskId } from '../protocol/envelope.js';
import { EnqueueError, ValidationError } from '../task/errors.js';
import type { AppSource } from './lambda.js';
import type { LambdaContext as Context, FunctionUrlEvent as LambdaFunctionURLEvent } from './lambda-types.js';

/** The most characters of a caller's input (a path, a header, a parse error) an answer repeats. */
export const MAX_ECHO = 200;
/** The longest `Idempotency-Key` accepted, characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
/** The longest `X-Ordering-Key` accepted, characters (the SQS message group id's limit). */
export const MAX_ORDERING_KEY_LENGTH = 128;

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
  /** A stable code: `BadRequest`, `NotFound`, `MethodNotAllowed`, `PayloadTooLarge`, `ValidationError`, `InternalError`. */
  readonly error: string;
  /** What went wrong and how to fix it. */
  readonly message: string;
  readonly [extra: string]: unknown;
}

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  /**
   * Where unexpected errors are logged.
   * @default the app's logger
   */
  readonly logger?: Logger;
  /** Called at the start of each invocation (e.g. Powertools' `logger.addContext(context)`). */
  readonly onInvocation?: (context: Context) => void;
}

/**
 * Create the function URL handler for an app. The app is made on the first request and reused while
 * the execution environment lives; if making it fails, the next request tries again.
 */
export function createHttpHandler(
  source: AppSource,
  options: HttpHandlerOptions = {},
): (event: LambdaFunctionURLEvent, context?: Context) => Promise<HttpResponse> {
  let app: Promise<Spool> | undefined;
  const load = (): Promise<Spool> => {
    app ??= Promise.resolve()
      .then(() => (typeof source === 'function' ? source() : source))
      .catch((error: unknown) => {
        app = undefined;
        throw error;
      });
    return app;
  };
  return async (event, context) => {
    if (context !== undefined) options.onInvocation?.(context);
    const requestId = event.requestContext?.requestId ?? '';
    let spool: Spool | undefined;
    try {
      spool = await load();
      return await route(spool, event);
    } catch (error) {
      const fields = { requestId, method: event.requestContext?.http?.method, path: clip(event.rawPath ?? ''), error };
      const logger = options.logger ?? spool?.logger;
      // Without an app (making it failed) and without a logger, stderr still reaches CloudWatch.
      if (logger === undefined) console.error('http api: request failed', fields);
      else logger.error('http api: request failed', fields);
      return reply(500, {
        error: 'InternalError',
        message: `The request failed because of an internal error (request id ${requestId || 'unknown'}); it has been logged. Retry later, and quote the request id if it persists.`,
        requestId,
      });
    }
  };
}

/** Answer one request (throws only on unexpected errors, which become 500). */
async function route(spool: Spool, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
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
async function enqueue(spool: Spool, taskName: string, event: LambdaFunctionURLEvent): Promise<HttpResponse> {
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
      task: handle.task,
      existing: handle.existing,
      status: `${PREFIX}${handle.id}`,
    };
    return reply(202, answer, { location: answer.status });
  } catch (error) {
    if (error instanceof ValidationError) {
      return reply(422, {
        error: 'ValidationError',
        message: clip(error.message, 2000),
        issues: error.issues.slice(0, 50).map((i) => ({ path: clip(i.path), message: clip(i.message) })),
      });
    }
    if (error instanceof EnqueueError) {
      const tooLarge = /the limit is \d+ bytes/.test(error.message);
      return reply(tooLarge ? 413 : 400, {
        error: tooLarge ? 'PayloadTooLarge' : 'BadRequest',
        message: clip(error.message, 1000),
      });
    }
    throw error;
  }
}

/** `GET /tasks/{id}`. */
async function status(spool: Spool, id: string): Promise<HttpResponse> {
  if (!isValidTaskId(id)) {
    return reply(400, {
      error: 'BadRequest',
      message: `${JSON.stringify(clip(id))} is not a task id: an id is 1 to 128 characters of [A-Za-z0-9_.:-]. Use the id a POST /tasks/{taskName} answered.`,
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
    task: record.task === '?' ? null : record.task,
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
