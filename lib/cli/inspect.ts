/**
 * `spool inspect <id>`: one run's record.
 *
 * @module
 */

import type { Command } from 'commander';
import type { TaskRecord } from '../backend/store.js';
import { openReader } from './app.js';
import { appOption, backendOption, dbOption, jsonOption, type ReaderFlags, targetOf } from './options.js';
import { type CliContext, CliError, EXIT, iso, keyValues, parseStored, printJson } from './output.js';

interface InspectFlags extends ReaderFlags {
  readonly json?: boolean;
}

/** Register `spool inspect`. */
export function registerInspect(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('Show the record of one run: state, attempts, times, lease, error, progress and result.')
    .argument('<id>', 'the task id (as `spool enqueue` printed it)')
    .addOption(appOption())
    .addOption(backendOption())
    .addOption(dbOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ spool inspect 3f9c1e…                   # reads .spool/spool.db
  $ spool inspect 3f9c1e… --app src/spool.ts --json`,
    )
    .action(async (id: string, flags: InspectFlags, command: Command) => {
      ctx.exit(await inspect(ctx, id, flags, command));
    });
}

async function inspect(ctx: CliContext, id: string, flags: InspectFlags, command: Command): Promise<number> {
  const reader = await openReader(targetOf(flags, command), ctx.cwd);
  try {
    const record = await reader.backend.store.get(id);
    if (record === undefined) {
      throw new CliError(
        `no record for ${id}: it is queued and not started yet, or it never existed, or its record expired (retention)`,
        EXIT.failed,
      );
    }
    if (flags.json) printJson(ctx.stdout, recordJson(record));
    else ctx.stdout.write(renderRecord(record));
    return EXIT.ok;
  } finally {
    await reader.close();
  }
}

/** A record for JSON output: times as ISO 8601, result and progress parsed. */
export function recordJson(record: TaskRecord): Record<string, unknown> {
  return {
    ...record,
    leaseExpiresAt: iso(record.leaseExpiresAt),
    nextRunAt: iso(record.nextRunAt),
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    startedAt: iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    expiresAt: iso(record.expiresAt),
    result: parseStored(record.result),
    progress: parseStored(record.progress),
  };
}

function renderRecord(r: TaskRecord): string {
  const pretty = (text: string | undefined) =>
    text === undefined ? undefined : JSON.stringify(parseStored(text), null, 2);
  const lease =
    r.leaseOwner === undefined ? undefined : `${r.leaseOwner} until ${iso(r.leaseExpiresAt) ?? '(unknown)'}`;
  return keyValues([
    ['id', r.id],
    ['task', r.task],
    ['state', r.state + (r.cancelRequested ? ' (cancel requested)' : '')],
    ['attempt', String(r.attempt)],
    ['created', iso(r.createdAt)],
    ['updated', iso(r.updatedAt)],
    ['started', iso(r.startedAt)],
    ['finished', iso(r.finishedAt)],
    ['next run', iso(r.nextRunAt)],
    ['lease', lease],
    ['singleton', r.singletonKey],
    ['unique', r.uniqueKey],
    ['expires', iso(r.expiresAt)],
    ['error', r.error === undefined ? undefined : `${r.error.name}: ${r.error.message}`],
    ['progress', pretty(r.progress)],
    [
      'result',
      pretty(r.result) ??
        (r.resultRef === undefined ? undefined : `a blob of ${r.resultRef.bytes} bytes at ${r.resultRef.key}`),
    ],
  ]);
}
