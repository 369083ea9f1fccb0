/**
 * `spool status`: queue depth, runs in flight, dead letters, retrying/failed/dead counts and the
 * most recent failures.
 *
 * @module
 */

import type { Command } from 'commander';
import type { Backend } from '../backend/backend.js';
import type { ListableState, TaskRecord } from '../backend/store.js';
import { openReader } from './app.js';
import { appOption, backendOption, dbOption, integer, jsonOption, type ReaderFlags, targetOf } from './options.js';
import { type CliContext, EXIT, iso, keyValues, line, printJson, table, truncate } from './output.js';

/** Records counted per state at most (the store lists, it does not count). */
export const COUNT_LIMIT = 1000;

interface StatusFlags extends ReaderFlags {
  readonly json?: boolean;
  readonly limit: number;
}

/** A count of records, `capped` when there are more than {@link COUNT_LIMIT}. */
interface Count {
  readonly count: number;
  readonly capped: boolean;
}

/** Register `spool status`. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('Show queue depth, runs in flight, dead letters, retrying/failed/dead counts and recent failures.')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .addOption(jsonOption())
    .option('--limit <n>', 'how many recent failures to show', integer(0, COUNT_LIMIT), 10)
    .addHelpText(
      'after',
      `
Examples:
  $ spool status                      # reads .spool/spool.db
  $ spool status --db var/spool.db --limit 20
  $ spool status --app src/spool.ts --json | jq .queue.visible`,
    )
    .action(async (flags: StatusFlags, command: Command) => {
      ctx.exit(await status(ctx, flags, command));
    });
}

async function status(ctx: CliContext, flags: StatusFlags, command: Command): Promise<number> {
  const reader = await openReader(targetOf(flags, command), ctx.cwd);
  try {
    const report = await collect(reader.backend, flags.limit);
    if (flags.json) printJson(ctx.stdout, { backend: reader.description, ...report });
    else render(ctx, reader.description, report);
    return EXIT.ok;
  } finally {
    await reader.close();
  }
}

async function collect(backend: Backend, limit: number) {
  const { tasks, deadLetters } = backend.transport;
  const list = (state: ListableState) => backend.store.list(state, { limit: COUNT_LIMIT + 1 });
  const [queue, dlq, retrying, failed, dead] = await Promise.all([
    tasks.stats(),
    deadLetters.stats(),
    list('retrying'),
    list('failed'),
    list('dead'),
  ]);
  const count = (records: readonly TaskRecord[]): Count => ({
    count: Math.min(records.length, COUNT_LIMIT),
    capped: records.length > COUNT_LIMIT,
  });
  const recent = [...failed, ...dead].sort((a, b) => b.updatedAt - a.updatedAt).slice(0, limit);
  return {
    queue: { name: tasks.name, visible: queue.visible, inFlight: queue.inFlight },
    deadLetters: { name: deadLetters.name, count: dlq.visible + dlq.inFlight },
    records: { retrying: count(retrying), failed: count(failed), dead: count(dead) },
    recentFailures: recent.map((r) => ({
      id: r.id,
      task: r.task,
      state: r.state,
      error: r.error ?? null,
      updatedAt: iso(r.updatedAt) ?? '',
    })),
  };
}

type Report = Awaited<ReturnType<typeof collect>>;

function render(ctx: CliContext, description: string, report: Report): void {
  const shown = (c: Count) => (c.capped ? `${COUNT_LIMIT}+` : String(c.count));
  line(ctx.stdout, description);
  ctx.stdout.write(
    keyValues([
      ['  queued (visible)', String(report.queue.visible)],
      ['  in flight', String(report.queue.inFlight)],
      ['  dead letters', String(report.deadLetters.count)],
      ['  retrying', shown(report.records.retrying)],
      ['  failed', shown(report.records.failed)],
      ['  dead', shown(report.records.dead)],
    ]),
  );
  line(ctx.stdout);
  if (report.recentFailures.length === 0) {
    line(ctx.stdout, 'No recent failures.');
    return;
  }
  line(ctx.stdout, `Recent failures (newest first, ${report.recentFailures.length} shown):`);
  const rows = report.recentFailures.map((f) => [
    f.id,
    f.task ?? '-',
    f.state,
    f.updatedAt,
    f.error === null ? '' : truncate(`${f.error.name}: ${f.error.message}`, 100),
  ]);
  ctx.stdout.write(table(['ID', 'TASK', 'STATE', 'AT', 'ERROR'], rows));
}
