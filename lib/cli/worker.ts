/**
 * `spool dev` (a worker with a readable live log) and `spool worker` (JSON logs, for production).
 * Both stop gracefully on SIGINT/SIGTERM; a second signal forces exit 130.
 *
 * @module
 */

import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import type { Spool } from '../client/spool.js';
import { createLogger } from '../log/logger.js';
import { MAX_CONCURRENCY, MAX_VISIBILITY_SECONDS } from '../protocol/limits.js';
import { WORKER_DEFAULTS, type Worker, type WorkerOptions } from '../worker/worker.js';
import { describeBackend, loadApp } from './app.js';
import { type AppFlags, appOption, backendOption, dbOption, integer, targetOf } from './options.js';
import { type CliContext, CliError, EXIT, line } from './output.js';

interface DevFlags extends AppFlags {
  readonly concurrency?: number;
  readonly verbose?: boolean;
  readonly quiet?: boolean;
}

interface WorkerFlags extends AppFlags {
  readonly concurrency?: number;
  readonly visibilityTimeout?: number;
  readonly shutdownGraceMs?: number;
  readonly pool?: PoolKind;
  readonly poolSize?: number;
}

/** Where `spool worker --pool` runs handlers. */
type PoolKind = 'inline' | 'threads' | 'processes';
const POOL_KINDS: readonly PoolKind[] = ['inline', 'threads', 'processes'];

/** commander's parser of `--pool`. */
function poolKind(value: string): PoolKind {
  if (!(POOL_KINDS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`allowed: ${POOL_KINDS.join(', ')}.`);
  }
  return value as PoolKind;
}

/** Exit code after a second Ctrl-C (128 + SIGINT). */
const FORCED_EXIT = 130;

/** Register `spool dev` and `spool worker`. */
export function registerWorkers(program: Command, ctx: CliContext): void {
  program
    .command('dev')
    .description('Run a worker for your app with a readable live log. Ctrl-C stops it gracefully.')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .option(
      '--concurrency <n>',
      `attempts run at once (default ${WORKER_DEFAULTS.concurrency})`,
      integer(1, MAX_CONCURRENCY),
    )
    .option('--verbose', 'log at debug level (the default of spool dev: a line per attempt)')
    .option('--quiet', 'log at info level: no line per successful attempt')
    .addHelpText(
      'after',
      `
Examples:
  $ spool dev --app src/spool.ts
  $ spool dev --app src/spool.ts --db var/spool.db
  $ SPOOL_APP=src/spool.ts spool dev --concurrency 2 --quiet`,
    )
    .action(async (flags: DevFlags, command: Command) => {
      ctx.exit(await dev(ctx, flags, command));
    });

  program
    .command('worker')
    .description('Run a worker for your app with JSON logs (production). SIGTERM/SIGINT stop it gracefully.')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .option(
      '--concurrency <n>',
      `attempts run at once (default ${WORKER_DEFAULTS.concurrency})`,
      integer(1, MAX_CONCURRENCY),
    )
    .option(
      '--visibility-timeout <s>',
      `visibility timeout requested on receive, seconds (default ${WORKER_DEFAULTS.visibilityTimeoutSeconds})`,
      integer(1, MAX_VISIBILITY_SECONDS),
    )
    .option(
      '--shutdown-grace-ms <ms>',
      `on stop, how long in-flight attempts may take to finish (default ${WORKER_DEFAULTS.shutdownGraceMs})`,
      integer(0),
    )
    .option(
      '--pool <kind>',
      'where handlers run: inline (the main thread), threads (worker threads) or processes (child processes, for native or CPU-heavy code); each pool member imports --app (default inline)',
      poolKind,
    )
    .option('--pool-size <n>', 'pool members at most (default: the concurrency)', integer(1, MAX_CONCURRENCY))
    .addHelpText(
      'after',
      `
Examples:
  $ spool worker --app dist/spool.js --concurrency 20
  $ spool worker --app dist/spool.js --pool processes --pool-size 4
  $ spool worker --app dist/spool.js --backend aws
  $ SPOOL_APP=dist/spool.js spool worker --shutdown-grace-ms 60000`,
    )
    .action(async (flags: WorkerFlags, command: Command) => {
      ctx.exit(await work(ctx, flags, command));
    });
}

async function dev(ctx: CliContext, flags: DevFlags, command: Command): Promise<number> {
  const spool = await loadApp(targetOf(flags, command), ctx.cwd);
  const logger = createLogger({
    format: 'pretty',
    level: flags.quiet === true && flags.verbose !== true ? 'info' : 'debug',
    write: (text) => ctx.stderr.write(text),
  });
  const options: WorkerOptions = flags.concurrency === undefined ? {} : { concurrency: flags.concurrency };
  const tasks = [...spool.tasks.keys()].sort();
  // The app's own worker: a CommonJS app loads spool's CommonJS build, whose error classes the
  // CLI's (ESM) worker would not recognise.
  return serve(ctx, spool, () => spool.worker({ ...options, logger, signals: false, crashes: true }), {
    started: () =>
      line(
        ctx.stdout,
        `spool dev: running ${tasks.length} task${tasks.length === 1 ? '' : 's'} (${tasks.join(', ')}) on ` +
          `${describeBackend(spool.backend)}, concurrency ${options.concurrency ?? WORKER_DEFAULTS.concurrency}. ` +
          'Ctrl-C to stop.',
      ),
    notice: (message) => line(ctx.stderr, `spool: ${message}`),
  });
}

async function work(ctx: CliContext, flags: WorkerFlags, command: Command): Promise<number> {
  const target = targetOf(flags, command);
  const spool = await loadApp(target, ctx.cwd);
  const poolKind = flags.pool === 'inline' ? undefined : flags.pool;
  if (flags.poolSize !== undefined && poolKind === undefined) {
    throw new CliError('--pool-size needs a pool: pass --pool threads or --pool processes too.', EXIT.usage);
  }
  const options: WorkerOptions = {
    ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
    ...(flags.visibilityTimeout === undefined ? {} : { visibilityTimeoutSeconds: flags.visibilityTimeout }),
    ...(flags.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: flags.shutdownGraceMs }),
    // Each member imports the app module itself (loadApp has checked that it loads).
    ...(poolKind === undefined || target.app === undefined
      ? {}
      : {
          pool: {
            kind: poolKind,
            app: resolve(ctx.cwd, target.app),
            ...(flags.poolSize === undefined ? {} : { size: flags.poolSize }),
          },
        }),
  };
  return serve(ctx, spool, () => spool.worker({ ...options, signals: false, crashes: true }), {
    started: () =>
      spool.runtime.logger.info('spool worker running', {
        backend: describeBackend(spool.backend),
        tasks: [...spool.tasks.keys()].sort(),
        concurrency: options.concurrency ?? WORKER_DEFAULTS.concurrency,
        pool: flags.pool ?? 'inline',
      }),
    notice: (message) => spool.runtime.logger.warn(message),
  });
}

/**
 * Start a worker, wait for SIGINT/SIGTERM, stop it gracefully and close the app. A second signal
 * while stopping resolves {@link FORCED_EXIT} at once (the launcher then exits the process).
 */
async function serve(
  ctx: CliContext,
  spool: Spool,
  make: () => Worker,
  say: { readonly started: () => void; readonly notice: (message: string) => void },
): Promise<number> {
  type Signal = 'SIGINT' | 'SIGTERM';
  let first: (signal: Signal) => void = () => {};
  let again: (signal: Signal) => void = () => {};
  const signalled = new Promise<Signal>((resolve) => {
    first = resolve;
  });
  const forced = new Promise<number>((resolve) => {
    again = (signal) => {
      say.notice(`second ${signal}: exiting now; runs still in flight are retried once their leases end`);
      resolve(FORCED_EXIT);
    };
  });
  let received = 0;
  const onSignal = (signal: Signal) => (++received === 1 ? first : again)(signal);
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  ctx.signals.on('SIGINT', onInt);
  ctx.signals.on('SIGTERM', onTerm);
  try {
    const worker = make();
    await worker.start();
    say.started();
    const signal = await signalled;
    say.notice(`${signal} received: stopping gracefully (${signal} again to exit at once)`);
    return await Promise.race([worker.stop().then(() => EXIT.ok), forced]);
  } finally {
    ctx.signals.off('SIGINT', onInt);
    ctx.signals.off('SIGTERM', onTerm);
    await spool.close();
  }
}
