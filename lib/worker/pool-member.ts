/**
 * A member of the handler pool (`./pool.ts`): a worker thread or a child process that imports the
 * app module, then runs one handler at a time with the arguments the worker validated. Its
 * `ctx.progress`, `ctx.logger` and `ctx.signal` are proxies of the attempt's on the main thread;
 * its result is encoded as JSON here (as the processor would encode it), and what it throws
 * crosses as a {@link WireError}. The worker terminates a member whose attempt hit its hard
 * timeout; nothing here needs to stop a handler.
 *
 * @module
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { parentPort } from 'node:worker_threads';
import type { LogFields, Logger, LogLevel } from '../log/logger.js';
import type { AnyTask, TaskContext } from '../task/define.js';
import { encodeResult } from '../task/result.js';
import { type CrashOrigin, describeValue, UnhandledError } from './crash.js';
import { type FromMember, fromWire, type ToMember, toWire } from './pool-protocol.js';

/** How this member talks to the pool: its thread's port, or its process's IPC channel. */
interface Channel {
  send(message: FromMember): void;
  onMessage(listener: (message: ToMember) => void): void;
}

function channel(): Channel {
  const port = parentPort;
  if (port !== null) {
    return {
      send: (message) => port.postMessage(message),
      onMessage: (listener) => port.on('message', listener),
    };
  }
  return {
    send: (message) => process.send?.(message),
    onMessage: (listener) => process.on('message', (message) => listener(message as ToMember)),
  };
}

const pool = channel();
let tasks: ReadonlyMap<string, AnyTask> | undefined;
let app: { close?: () => unknown } | undefined;
/** The handler running now (one at a time), by its call number. */
const running = new Map<
  number,
  { readonly controller: AbortController; readonly progress: Map<number, (error?: unknown) => void> }
>();

/**
 * The call whose handler started the code running now, as on the main thread (`./crash.ts`): an
 * error that escapes a handler (a throw in its timer, a promise it left rejected) fails that call
 * with an {@link UnhandledError}, and the member goes on, instead of dying with a bare exit code.
 */
const callScope = new AsyncLocalStorage<{
  readonly call: number;
  readonly taskId: string;
  readonly taskName: string;
}>();

function onEscaped(origin: CrashOrigin) {
  return (thrown: unknown): void => {
    const scope = callScope.getStore();
    if (scope !== undefined && running.has(scope.call)) {
      running.delete(scope.call); // its later outcome is not sent: this is it
      send({ type: 'threw', call: scope.call, error: toWire(new UnhandledError(thrown, origin, scope)) });
      return;
    }
    if (scope !== undefined) {
      // After its call ended, the main thread has its outcome, which stands (as on the main thread).
      process.stderr.write(
        `spool pool member: ${origin} after the attempt of run ${scope.taskId} (${scope.taskName}) ended; its outcome stands: ${describeValue(thrown)}\n`,
      );
      return;
    }
    // Outside any call: this member ends as it would have, and the pool replaces it.
    process.stderr.write(`spool pool member: ${origin} outside any attempt: ${describeValue(thrown)}\n`);
    process.exit(1);
  };
}
process.on('uncaughtException', onEscaped('uncaughtException'));
process.on('unhandledRejection', onEscaped('unhandledRejection'));

/** Send, never throwing: a value that cannot be cloned is sent as text. */
function send(message: FromMember): void {
  try {
    pool.send(message);
  } catch (error) {
    if (message.type === 'log') {
      pool.send({ ...message, fields: { fields: safeText(message.fields) } });
    } else if (message.type === 'progress') {
      const settle = running.get(message.call)?.progress.get(message.seq);
      settle?.(error);
    } else throw error;
  }
}

function safeText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The app module's tasks: its spool (default export, `spool`, or `exportName`), or a function returning it. */
async function load(message: Extract<ToMember, { type: 'init' }>): Promise<ReadonlyMap<string, AnyTask>> {
  const isTs = /\.[cm]?ts$/.test(new URL(message.app).pathname);
  let namespace: Record<string, unknown>;
  if (isTs && message.tsx !== undefined && parentPort !== null) {
    const tsx = (await import(message.tsx)) as { tsImport: (url: string, parent: string) => Promise<unknown> };
    namespace = (await tsx.tsImport(message.app, message.app)) as Record<string, unknown>;
  } else {
    namespace = (await import(message.app)) as Record<string, unknown>;
  }
  // A CommonJS module's `module.exports` arrives as `default`: read the exports there when it holds
  // them (TypeScript compiled to CommonJS, `exports.spool = …`), as the CLI does.
  const inner = namespace.default;
  const exports =
    isObject(inner) && (inner.__esModule === true || 'default' in inner || 'spool' in inner) ? inner : namespace;
  const names = message.exportName === undefined ? ['default', 'spool'] : [message.exportName];
  let candidate: unknown;
  for (const name of names) candidate ??= exports[name];
  if (typeof candidate === 'function') candidate = await (candidate as (options: object) => unknown)({});
  const found = isObject(candidate)
    ? ((candidate.runtime as { tasks?: unknown } | undefined)?.tasks ?? candidate.tasks)
    : undefined;
  if (!(found instanceof Map)) {
    throw new Error(
      `pool member: the app module ${message.app} has no spool export ${names.map((n) => `'${n}'`).join(' or ')} ` +
        '(a Spool from createSpool, or a function returning one); found exports: ' +
        `${Object.keys(exports).join(', ') || '(none)'}.`,
    );
  }
  app = candidate as { close?: () => unknown };
  return found as ReadonlyMap<string, AnyTask>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A logger whose lines are written by the attempt's logger on the main thread. */
function proxyLogger(call: number, bound: LogFields | undefined): Logger {
  const write =
    (level: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: LogFields): void => {
      const merged = bound === undefined ? fields : { ...bound, ...fields };
      send({ type: 'log', call, level, message, ...(merged === undefined ? {} : { fields: merged }) });
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => proxyLogger(call, bound === undefined ? fields : { ...bound, ...fields }),
  };
}

async function run(message: Extract<ToMember, { type: 'run' }>): Promise<void> {
  const { call } = message;
  const controller = new AbortController();
  const progress = new Map<number, (error?: unknown) => void>();
  running.set(call, { controller, progress });
  let seq = 0;
  const ctx: TaskContext = {
    taskId: message.taskId,
    taskName: message.task,
    attempt: message.attempt,
    maxAttempts: message.maxAttempts,
    signal: controller.signal,
    logger: proxyLogger(call, undefined),
    progress: (value) =>
      new Promise<void>((resolve, reject) => {
        const n = ++seq;
        progress.set(n, (error) => {
          progress.delete(n);
          if (error === undefined) resolve();
          else reject(error);
        });
        send({ type: 'progress', call, seq: n, value });
      }),
  };
  try {
    const task = tasks?.get(message.task);
    if (task === undefined) throw new Error(`pool member: the app module has no task '${message.task}'`);
    const scope = { call, taskId: message.taskId, taskName: message.task };
    const result = await callScope.run(scope, () => task.handler(message.args, ctx));
    if (!running.has(call)) return; // an escaped error ended it
    const json = task.ignoreResult ? undefined : encodeResult(result, { taskName: task.name, taskId: message.taskId });
    send({ type: 'done', call, ...(json === undefined ? {} : { json }) });
  } catch (error) {
    if (running.has(call)) send({ type: 'threw', call, error: toWire(error) });
  } finally {
    running.delete(call);
  }
}

pool.onMessage((message) => {
  switch (message.type) {
    case 'init':
      load(message).then(
        (loaded) => {
          tasks = loaded;
          send({ type: 'ready' });
        },
        (error: unknown) => send({ type: 'init-failed', error: toWire(error) }),
      );
      return;
    case 'run':
      void run(message);
      return;
    case 'abort':
      running.get(message.call)?.controller.abort(fromWire(message.reason));
      return;
    case 'progress-done':
      running.get(message.call)?.progress.get(message.seq)?.(
        message.error === undefined ? undefined : fromWire(message.error),
      );
      return;
    case 'close':
      // `process.exit` in a worker thread ends the thread only.
      void Promise.resolve(app?.close?.()).finally(() => process.exit(0));
      return;
  }
});
