/**
 * `spool dlq list` and `spool dlq redrive`: dead letters with their reasons, and moving them back
 * onto the task queue.
 *
 * @module
 */

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { countDeadLetters, listDeadLetters, redriveDeadLetters } from '../client/dlq.js';
import { openReader } from './app.js';
import { appOption, backendOption, dbOption, integer, jsonOption, type ReaderFlags, targetOf } from './options.js';
import { type CliContext, CliError, EXIT, line, printJson, table } from './output.js';

interface ListFlags extends ReaderFlags {
  readonly limit: number;
  readonly json?: boolean;
}

interface RedriveFlags extends ReaderFlags {
  readonly all?: boolean;
  readonly json?: boolean;
}

/** Register `spool dlq list` and `spool dlq redrive`. */
export function registerDlq(program: Command, ctx: CliContext): void {
  const dlq = program
    .command('dlq')
    .description('Dead letters: runs that will not be attempted again, and why.')
    .addHelpText('after', '\nExamples:\n  $ spool dlq list\n  $ spool dlq redrive --all');

  dlq
    .command('list')
    .description('List dead letters: message id, task id, task, when and why it died.')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .option('--limit <n>', 'at most this many', integer(1, 10_000), 50)
    .addOption(jsonOption())
    .addHelpText('after', '\nExamples:\n  $ spool dlq list\n  $ spool dlq list --limit 500 --json | jq ".[].reason"')
    .action(async (flags: ListFlags, command: Command) => {
      ctx.exit(await list(ctx, flags, command));
    });

  dlq
    .command('redrive')
    .description('Move dead letters back onto the task queue (their runs start over with fresh attempts).')
    .argument('[taskIds...]', 'only the dead letters of these task ids')
    .option('--all', 'redrive every dead letter')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ spool dlq redrive --all\n  $ spool dlq redrive 3f9c1e… 8a7b2d… --app src/spool.ts --json',
    )
    .action(async (taskIds: string[], flags: RedriveFlags, command: Command) => {
      ctx.exit(await redrive(ctx, taskIds, flags, command));
    });
}

async function list(ctx: CliContext, flags: ListFlags, command: Command): Promise<number> {
  const reader = await openReader(targetOf(flags, command), ctx.cwd);
  try {
    const letters = await listDeadLetters(reader.backend, { limit: flags.limit });
    if (flags.json) {
      printJson(ctx.stdout, letters);
      return EXIT.ok;
    }
    if (letters.length === 0) {
      line(ctx.stdout, `No dead letters (${reader.description}).`);
      return EXIT.ok;
    }
    const rows = letters.map((d) => [d.messageId, d.taskId ?? '?', d.task ?? '?', d.deadAt ?? '?', d.reason]);
    ctx.stdout.write(table(['MESSAGE ID', 'TASK ID', 'TASK', 'DEAD AT', 'REASON'], rows));
    if (letters.length === flags.limit) line(ctx.stderr, `(first ${flags.limit} shown; see more with --limit)`);
    return EXIT.ok;
  } finally {
    await reader.close();
  }
}

async function redrive(
  ctx: CliContext,
  taskIds: readonly string[],
  flags: RedriveFlags,
  command: Command,
): Promise<number> {
  if (flags.all === true && taskIds.length > 0) {
    throw new CliError('pass either --all or task ids, not both.', EXIT.usage);
  }
  if (flags.all !== true && taskIds.length === 0) {
    throw new CliError(
      'say which dead letters to redrive: --all for every one, or their task ids (see `spool dlq list`).',
      EXIT.usage,
    );
  }
  const wanted = [...new Set(taskIds)];
  const reader = await openReader(targetOf(flags, command), ctx.cwd);
  try {
    const total = flags.all === true ? await countDeadLetters(reader.backend) : wanted.length;
    const bar =
      ctx.stderr.isTTY === true && total > 0
        ? new SingleBar({
            stream: ctx.stderr,
            format: 'redrive |{bar}| {value}/{total} dead letters',
            hideCursor: true,
          })
        : undefined;
    bar?.start(total, 0);
    let moved: number;
    try {
      moved = await redriveDeadLetters(reader.backend, {
        ...(flags.all === true ? {} : { taskIds: wanted }),
        onProgress: (n) => {
          if (bar !== undefined && n > bar.getTotal()) bar.setTotal(n);
          bar?.update(n);
        },
      });
    } finally {
      bar?.stop();
    }
    const missing = flags.all === true ? 0 : wanted.length - moved;
    if (flags.json) printJson(ctx.stdout, { moved, ...(flags.all === true ? {} : { requested: wanted.length }) });
    else
      line(
        ctx.stdout,
        `Moved ${moved} dead letter${moved === 1 ? '' : 's'} back onto queue ${reader.backend.transport.tasks.name}.`,
      );
    if (missing > 0) {
      throw new CliError(
        `${missing} of the ${wanted.length} task ids given had no dead letter (check them with \`spool dlq list\`).`,
        EXIT.failed,
      );
    }
    return EXIT.ok;
  } finally {
    await reader.close();
  }
}
