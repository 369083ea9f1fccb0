/**
 * `spool enqueue <task> '<json>'`: validate and enqueue one run, optionally wait for its result.
 *
 * @module
 */

import type { Command } from 'commander';
import type { EnqueueOptions } from '../client/enqueue.js';
import type { Spool } from '../client/spool.js';
import { loadApp } from './app.js';
import { parseJsonArgument } from './json.js';
import { type AppFlags, appOption, backendOption, integer, jsonOption } from './options.js';
import { type CliContext, CliError, EXIT, line, parseStored, printJson } from './output.js';

interface EnqueueFlags extends AppFlags {
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
    .argument('[json]', 'the arguments as JSON (quote it for your shell)', '{}')
    .addOption(appOption())
    .addOption(backendOption())
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
    {"id":"…","task":"greet","existing":false}`,
    )
    .action(async (task: string, json: string, flags: EnqueueFlags) => {
      ctx.exit(await enqueue(ctx, task, json, flags));
    });
}

async function enqueue(ctx: CliContext, taskName: string, json: string, flags: EnqueueFlags): Promise<number> {
  const args = parseJsonArgument(json, `arguments of '${taskName}'`, `spool enqueue ${taskName} '{"key":"value"}'`);
  const spool = await loadApp(flags.app, ctx.cwd, flags.backend);
  try {
    return await enqueueWith(ctx, spool, taskName, args, flags);
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
