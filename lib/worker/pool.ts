/**
 * The handler pool: runs handlers off the worker's main thread, in worker threads or child
 * processes (`child_process.fork`) — Celery's prefork, the Node way. Each member
 * (`./pool-member.ts`) imports the app module and runs one attempt at a time; the main thread
 * keeps everything else (the claim, validation, middleware, timeouts, the lease, the finish).
 *
 * - An attempt takes an idle member (one is started when none is idle and the pool is below its
 *   size; else the attempt waits for one, and the wait counts against its timeouts).
 * - `ctx.progress`, `ctx.logger` and `ctx.signal` are proxied by messages. A soft timeout or a
 *   cancel aborts the member's `ctx.signal`; a hard timeout, a lost lease or the end of the
 *   shutdown grace abandon the attempt, and then the member is **terminated** (the only way to stop
 *   a synchronous loop) and a fresh one started in its place.
 * - A member that dies (a crash, out of memory, `process.exit`) fails only its attempt, with a
 *   {@link PoolMemberError} (retriable) that says how it ended.
 *
 * @module
 */

import type { ChildProcess } from 'node:child_process';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker as Thread } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { MAX_CONCURRENCY } from '../protocol/limits.js';
import type { AnyTask, TaskContext } from '../task/define.js';
import { ConfigurationError, hasErrorCode, NonRetriableError } from '../task/errors.js';
import { type FromMember, fromWire, type ToMember, toWire } from './pool-protocol.js';
import type { Runtime } from './runtime.js';
import { findTsx, forkProcess, isTypeScript, siblingEntry, startThread } from './thread-entry.js';

/** The handler pool of a worker (its option `pool`). */
export interface WorkerPoolOptions {
  /** `threads`: `node:worker_threads`; `processes`: `child_process.fork` (native addons, isolation). */
  readonly kind: 'threads' | 'processes';
  /**
   * The app module each member imports: a `file:` URL (`new URL('./app.js', import.meta.url)`) or
   * a path (relative to `process.cwd()`). It must export the app as the CLI expects: a default export
   * (or a named export `spool`, or {@link WorkerPoolOptions.exportName}) that is the `Spool`, or a
   * function returning it. A TypeScript module loads through tsx.
   */
  readonly app: string | URL;
  /**
   * The export that holds the app.
   * @default 'default', then 'spool'
   */
  readonly exportName?: string;
  /**
   * Members at most (each runs one attempt at a time).
   * @default the worker's concurrency
   */
  readonly size?: number;
}

/**
 * A pool member ended while it ran an attempt (it crashed, ran out of memory, or called
 * `process.exit`). Retriable: the attempt is tried again per the task's retry policy.
 */
export class PoolMemberError extends Error {
  override name = 'PoolMemberError';
}

/** Check a worker's pool options (called with the worker's other options). */
export function checkPoolOptions(pool: WorkerPoolOptions, concurrency: number): void {
  const problems: string[] = [];
  if (pool.kind !== 'threads' && pool.kind !== 'processes') {
    problems.push(`kind is ${JSON.stringify(pool.kind)}; allowed: 'threads' or 'processes' (or pool: 'inline')`);
  }
  const size = pool.size ?? concurrency;
  if (!Number.isInteger(size) || size < 1 || size > MAX_CONCURRENCY) {
    problems.push(`size is ${String(size)}; allowed: an integer from 1 to ${MAX_CONCURRENCY}`);
  }
  if (!(pool.app instanceof URL) && (typeof pool.app !== 'string' || pool.app === '')) {
    problems.push(
      `app is ${JSON.stringify(pool.app)}; pass the module that exports the app, as a file: URL (new URL('./app.js', the URL of the module that starts the worker)) or a path`,
    );
  }
  if (problems.length > 0) throw new ConfigurationError(`Worker option pool: ${problems.join('; ')}.`);
}

/** Options of {@link HandlerPool}. */
export interface HandlerPoolOptions extends WorkerPoolOptions {
  readonly size: number;
  readonly logger: Logger;
}

/** The attempt a member runs. */
interface Call {
  readonly call: number;
  readonly ctx: TaskContext;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** One member: a thread or a child process. */
class Member {
  readonly ready: Promise<void>;
  /** Whether it has loaded the app. */
  loaded = false;
  current: Call | undefined;
  /** Why it ended, once it has (or was told to). */
  ended: string | undefined;
  readonly #thread: Thread | undefined;
  readonly #child: ChildProcess | undefined;
  #resolveReady: () => void = () => {};
  #rejectReady: (error: unknown) => void = () => {};

  constructor(
    readonly pool: HandlerPool,
    kind: WorkerPoolOptions['kind'],
    init: Extract<ToMember, { type: 'init' }>,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // a run that waits on it sees the failure
    const entry = siblingEntry('pool-member', import.meta.url);
    const onMessage = (message: FromMember) => this.#onMessage(message);
    if (kind === 'threads') {
      const thread = startThread(entry, undefined);
      this.#thread = thread;
      thread.on('message', onMessage);
      thread.on('error', (error) => this.#onExit(`threw an uncaught ${describe(error)}`));
      thread.on('exit', (code) => this.#onExit(`exited with code ${code}`));
      thread.unref();
    } else {
      const child = forkProcess(entry, isTypeScript(init.app));
      this.#child = child;
      child.on('message', onMessage);
      child.on('error', (error) => this.#onExit(`failed: ${describe(error)}`));
      child.on('exit', (code, signal) =>
        this.#onExit(signal === null ? `exited with code ${code}` : `was killed by ${signal}`),
      );
      child.unref();
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
    }
    this.send(init);
  }

  /** Post a message (throws a `DataCloneError` for a value that cannot be cloned). */
  send(message: ToMember): void {
    if (this.#thread !== undefined) this.#thread.postMessage(message);
    else if (this.#child?.connected === true) this.#child.send(message);
  }

  /** Stop it now (a hard timeout, an abandoned attempt, the pool closing). */
  terminate(why: string): void {
    if (this.ended !== undefined) return;
    this.ended = why;
    if (this.#thread !== undefined) void this.#thread.terminate();
    else this.#child?.kill('SIGKILL');
  }

  /** Ask it to close its app and exit; resolves when it has (or is terminated after `graceMs`). */
  async close(graceMs: number): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => {
      this.#onExited = resolve;
    });
    try {
      this.send({ type: 'close' });
    } catch {
      // the channel is gone: it is exiting
    }
    const timer = setTimeout(() => this.terminate('the pool closed'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  #exited = false;
  #onExited: () => void = () => {};

  #onExit(how: string): void {
    if (this.#exited) return;
    this.#exited = true;
    const why = this.ended;
    this.ended ??= how;
    this.#rejectReady(new PoolMemberError(`the pool member ${how} before it had loaded the app`));
    const call = this.current;
    this.current = undefined;
    if (call !== undefined && why === undefined) {
      call.reject(
        new PoolMemberError(
          `the pool's ${this.#thread === undefined ? 'child process' : 'worker thread'} running this attempt ${how} before the handler finished ` +
            '(it crashed, ran out of memory, or called process.exit); only this attempt failed, and it is retried per the task’s retry policy',
        ),
      );
    }
    this.#onExited();
    this.pool.memberEnded(this);
  }

  #onMessage(message: FromMember): void {
    switch (message.type) {
      case 'ready':
        this.loaded = true;
        this.#resolveReady();
        return;
      case 'init-failed':
        this.#rejectReady(fromWire(message.error));
        this.terminate('it could not load the app');
        return;
      default:
        break;
    }
    const call = this.current;
    if (call === undefined || call.call !== message.call) return;
    switch (message.type) {
      case 'progress':
        call.ctx.progress(message.value).then(
          () => this.#reply({ type: 'progress-done', call: message.call, seq: message.seq }),
          (error: unknown) =>
            this.#reply({ type: 'progress-done', call: message.call, seq: message.seq, error: toWire(error) }),
        );
        return;
      case 'log':
        call.ctx.logger[message.level](message.message, message.fields);
        return;
      case 'done':
        this.current = undefined;
        call.resolve(message.json === undefined ? undefined : JSON.parse(message.json));
        return;
      case 'threw':
        this.current = undefined;
        call.reject(fromWire(message.error));
        return;
    }
  }

  #reply(message: ToMember): void {
    try {
      this.send(message);
    } catch {
      // it ended
    }
  }
}

/** See the module's header. */
export class HandlerPool {
  readonly #options: HandlerPoolOptions;
  readonly #init: Extract<ToMember, { type: 'init' }>;
  readonly #members = new Set<Member>();
  readonly #idle: Member[] = [];
  readonly #waiting: ((member: Member) => void)[] = [];
  #calls = 0;
  #closing = false;

  constructor(options: HandlerPoolOptions) {
    this.#options = options;
    const app = appUrl(options.app);
    const tsx = options.kind === 'threads' && isTypeScript(app) ? findTsx('tsx/esm/api', [app]) : undefined;
    this.#init = {
      type: 'init',
      app,
      ...(options.exportName === undefined ? {} : { exportName: options.exportName }),
      ...(tsx === undefined ? {} : { tsx }),
    };
  }

  /** `runtime` with each task's handler run in the pool (everything else stays as it is). */
  wrap(runtime: Runtime): Runtime {
    const tasks = new Map<string, AnyTask>();
    for (const [name, task] of runtime.tasks) {
      tasks.set(name, { ...task, handler: (args: unknown, ctx: TaskContext) => this.run(task, args, ctx) });
    }
    return { ...runtime, tasks };
  }

  /** Run `task`'s handler in a member with the validated `args`; settles as the handler does. */
  async run(task: AnyTask, args: unknown, ctx: TaskContext): Promise<unknown> {
    const member = await this.#acquire();
    try {
      await member.ready;
    } catch (error) {
      this.#options.logger.error('pool member could not load the app', { app: this.#init.app, error });
      throw new ConfigurationError(
        `the pool member could not load the app module ${this.#init.app}: ${describe(error)}. ` +
          'Check the worker option pool.app (or spool worker --app): it must export the app as the CLI expects.',
        { taskId: ctx.taskId, taskName: task.name, cause: error },
      );
    }
    const signal = ctx.signal;
    const onAbort = () => this.#onAbort(member, signal.reason);
    try {
      return await new Promise<unknown>((resolve, reject) => {
        const call = ++this.#calls;
        member.current = { call, ctx, resolve, reject };
        try {
          member.send({
            type: 'run',
            call,
            task: task.name,
            args,
            taskId: ctx.taskId,
            attempt: ctx.attempt,
            maxAttempts: ctx.maxAttempts,
          });
        } catch (error) {
          member.current = undefined;
          reject(
            new NonRetriableError(
              `task '${task.name}': its validated arguments cannot be sent to a pool member (${describe(error)}); ` +
                'a pool passes arguments by structured clone, so a schema that transforms them into functions or class instances with private state cannot be used there. Run the task inline, or keep its arguments plain data.',
              { taskId: ctx.taskId, taskName: task.name },
            ),
          );
          return;
        }
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#release(member);
    }
  }

  /**
   * The attempt's signal aborted. A soft timeout or a cancel: abort the member's signal too. A hard
   * timeout, a lost lease or a shutdown abandon the attempt: terminate the member.
   */
  #onAbort(member: Member, reason: unknown): void {
    const call = member.current;
    if (call === undefined) return;
    const abandoned =
      hasErrorCode(reason, 'HARD_TIMEOUT') ||
      (hasErrorCode(reason, 'ATTEMPT_ABORTED') && (reason as { why?: string }).why !== 'cancelled');
    if (!abandoned) {
      try {
        member.send({ type: 'abort', call: call.call, reason: toWire(reason) });
      } catch {
        // it ended: its exit fails the call
      }
      return;
    }
    member.current = undefined;
    member.terminate(hasErrorCode(reason, 'HARD_TIMEOUT') ? 'hard timeout' : 'attempt abandoned');
    this.#options.logger.warn('pool member terminated: its attempt was abandoned; a fresh member replaces it', {
      taskId: call.ctx.taskId,
      task: call.ctx.taskName,
      attempt: call.ctx.attempt,
      reason: hasErrorCode(reason, 'HARD_TIMEOUT') ? 'hard timeout' : (reason as { why?: string }).why,
    });
    call.reject(reason);
  }

  /**
   * Start every member and resolve once each has loaded the app (or failed to: that is logged, and
   * its attempts fail with the reason), so that no attempt's time goes on loading it.
   */
  async start(): Promise<void> {
    while (this.#members.size < this.#options.size) this.#idle.push(this.#spawn());
    const loads = await Promise.allSettled([...this.#members].map((member) => member.ready));
    const failed = loads.find((load) => load.status === 'rejected');
    if (failed !== undefined) {
      this.#options.logger.error('pool member could not load the app', { app: this.#init.app, error: failed.reason });
    }
  }

  /** An idle member (one that has loaded the app first), a new one, or the next one released. */
  #acquire(): Promise<Member> {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const idle = this.#idle[i] as Member;
      if (idle.ended !== undefined) this.#idle.splice(i, 1);
    }
    const loaded = this.#idle.findIndex((member) => member.loaded);
    const taken = loaded >= 0 ? this.#idle.splice(loaded, 1)[0] : this.#idle.pop();
    if (taken !== undefined) return Promise.resolve(taken);
    if (this.#members.size < this.#options.size) return Promise.resolve(this.#spawn());
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #spawn(): Member {
    const member = new Member(this, this.#options.kind, this.#init);
    this.#members.add(member);
    return member;
  }

  #release(member: Member): void {
    if (member.ended !== undefined) return; // memberEnded hands its place on
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(member);
    else this.#idle.push(member);
  }

  /** A member ended: forget it, and start a fresh one for an attempt waiting (or as a spare after a termination). */
  memberEnded(member: Member): void {
    this.#members.delete(member);
    const index = this.#idle.indexOf(member);
    if (index >= 0) this.#idle.splice(index, 1);
    if (this.#closing) return;
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(this.#spawn());
    else if (member.ended === 'hard timeout' || member.ended === 'attempt abandoned') this.#idle.push(this.#spawn());
  }

  /** Close every member (the worker has drained): each closes its app and exits, or is terminated. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#members].map((member) => member.close(2000)));
  }
}

/** The app module as a `file:` URL. */
function appUrl(app: string | URL): string {
  if (app instanceof URL) return app.href;
  if (app.startsWith('file:')) return app;
  return pathToFileURL(isAbsolute(app) ? app : resolvePath(process.cwd(), app)).href;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
