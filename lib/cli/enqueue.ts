/**
 * `spool enqueue <task> '<json>'` (or `-` for stdin, or `--args-file <path>`): validate and
 * enqueue one run, optionally wait for its result.
 *
 * @module
 */

import type { Command } from 'commander';
import type { EnqueueOptions } from '../client/enqueue.js';
import type { Spool } from '../client/spool.js';
import { hasErrorCode } from '../task/errors.js';
import { loadApp } from './app.js';
import { readArguments, STDIN_ARGUMENT } from './input.js';
import { type AppFlags, appOption, backendOption, dbOption, integer, jsonOption, targetOf } from './options.js';
import { type CliContext, CliError, EXIT, line, parseStored, printJson } from './output.js';

interface EnqueueFlags extends AppFlags {
  readonly argsFile?: string;
  readonly idempotencyKey?: string;
  readonly orderingKey?: string;
  readonly wait?: boolean;
  readonly timeoutMs: number;
  readonly json?: boolean;
}

/** Register `spool enqueue`. */
export function registerEnqueue(program: Command, ctx: CliContext): void {
  program
    .command('enqueue')
    .description('Validate arguments against the task’s schema and enqueue one run; prints its task id.')
    .argument('<task>', 'the task’s name, as registered in your app')
    .argument(
      '[json]',
      `the arguments as JSON (quote it for your shell), or ${STDIN_ARGUMENT} to read them from stdin (default {})`,
    )
    .option('--args-file <path>', `read the arguments as JSON from this file (${STDIN_ARGUMENT}: stdin) instead`)
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .option('--idempotency-key <key>', 'what makes two enqueues the same run (default: the task’s rule)')
    .option('--ordering-key <key>', 'runs with the same key start in enqueue order, one at a time')
    .option('--wait', 'wait for the run to end and print its result (exit 1 if it fails)')
    .option('--timeout-ms <ms>', 'with --wait: how long to wait', integer(1), 30_000)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ spool enqueue greet '{"name":"Ada"}' --app src/spool.ts
  $ spool enqueue orders.charge '{"orderId":"o-1","amountCents":1200}' --wait --timeout-ms 10000
  $ spool enqueue greet '{"name":"Ada"}' --json
    {"id":"…","task":"greet","existing":false}
  $ spool enqueue greet --args-file args.json --app src/spool.ts   # cmd.exe, PowerShell
  $ spool enqueue greet - --app src/spool.ts < args.json
  $ spool enqueue greet '{"name":"Ada"}' --app src/spool.ts --db var/spool.db`,
    )
    .action(async (task: string, json: string | undefined, flags: EnqueueFlags, command: Command) => {
      ctx.exit(await enqueue(ctx, task, json, flags, command));
    });
}

async function enqueue(
  ctx: CliContext,
  taskName: string,
  json: string | undefined,
  flags: EnqueueFlags,
  command: Command,
): Promise<number> {
  const target = targetOf(flags, command);
  const args = await readArguments(ctx, taskName, {
    ...(json === undefined ? {} : { json }),
    ...(flags.argsFile === undefined ? {} : { file: flags.argsFile }),
  });
  const spool = await loadApp(target, ctx.cwd);
  try {
    // The flags that reach this run's backend again, for the advice to follow it.
    const where = `--app ${target.app ?? '…'}${target.chosenBy === undefined ? '' : ` ${target.chosenBy}`}`;
    return await enqueueWith(ctx, spool, taskName, args, flags, where);
  } finally {
    await spool.close();
  }
}

async function enqueueWith(
  ctx: CliContext,
  spool: Spool,
  taskName: string,
  args: unknown,
  flags: EnqueueFlags,
  /** The flags that reach the run's backend (`--app src/spool.ts --db var/spool.db`). */
  where: string,
): Promise<number> {
  const task = spool.tasks.get(taskName);
  if (task === undefined) {
    const known = [...spool.tasks.keys()].sort();
    throw new CliError(
      `unknown task '${taskName}': the app registers ${known.length === 0 ? 'no tasks' : known.join(', ')}. ` +
        'Use one of these names, or add the task to createSpool({ tasks }).',
      EXIT.usage,
    );
  }
  const options: EnqueueOptions = {
    ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
    ...(flags.orderingKey === undefined ? {} : { orderingKey: flags.orderingKey }),
  };
  const handle = await spool.enqueue(task, args, options);
  const summary = { id: handle.id, task: handle.task, existing: handle.existing };
  if (!flags.json) {
    line(ctx.stdout, handle.id);
    if (handle.existing)
      line(ctx.stderr, `(a run with the same unique key is already queued or running: ${handle.id})`);
  }
  if (!flags.wait) {
    if (flags.json) printJson(ctx.stdout, summary);
    return EXIT.ok;
  }
  let failure: unknown;
  try {
    await handle.result({ timeoutMs: flags.timeoutMs });
  } catch (error) {
    failure = error;
  }
  const record = await handle.info();
  if (hasErrorCode(failure, 'TIMEOUT')) {
    // The library's message gives API advice (result({ timeoutMs })); a CLI user needs the flag.
    failure = new CliError(
      `Run ${handle.id} of task '${handle.task}' did not finish within ${flags.timeoutMs} ms (state: ` +
        `${record?.state ?? 'queued'}). Is a worker running on this backend (spool dev ${where})? Wait longer with ` +
        `--timeout-ms <ms>, or follow the run with \`spool inspect ${handle.id} ${where}\`.`,
      EXIT.failed,
      { cause: failure },
    );
  }
  if (flags.json) {
    printJson(ctx.stdout, {
      ...summary,
      state: record?.state ?? 'queued',
      ...(record?.result === undefined ? {} : { result: parseStored(record.result) }),
      ...(record?.error === undefined ? {} : { error: record.error }),
    });
  } else if (failure === undefined) {
    printJson(ctx.stdout, parseStored(record?.result) ?? null);
  }
  if (failure !== undefined) throw failure;
  return EXIT.ok;
}
