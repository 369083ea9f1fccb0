/**
 * `spool schedules list | sync | pause | resume | trigger`: the deployed recurring schedules
 * (embedded: the SQLite file; AWS: the EventBridge Scheduler group) and keeping them in step with
 * the code.
 *
 * @module
 */

import type { Command } from 'commander';
import type { Backend } from '../backend/backend.js';
import type { DeployedSchedule, SchedulerPort } from '../backend/scheduler.js';
import { describeSpec, type ScheduleSpec, triggerOf } from '../schedule/define.js';
import { fireRun } from '../schedule/fire.js';
import { applySync, planIsEmpty, planSync, type SyncPlan } from '../schedule/sync.js';
import { describeTrigger, nextFire } from '../schedule/trigger.js';
import { hasErrorCode } from '../task/errors.js';
import { describeBackend, loadApp, openReader, type Reader } from './app.js';
import { appOption, backendOption, dbOption, jsonOption, type ReaderFlags, type Target, targetOf } from './options.js';
import { type CliContext, CliError, EXIT, iso, line, printJson, table } from './output.js';

interface Flags extends ReaderFlags {
  readonly json?: boolean;
  readonly dryRun?: boolean;
}

const WHERE = `
Where: --app <module> uses your app's backend (and its schedules, for sync); --backend aws uses
SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN (set by the TaskQueue construct); otherwise the
embedded SQLite file (--db).`;

/** Register `spool schedules …`. */
export function registerSchedules(program: Command, ctx: CliContext): void {
  const schedules = program
    .command('schedules')
    .description('Recurring schedules: list them, sync them with the code, pause, resume, trigger.')
    .addHelpText(
      'after',
      `${WHERE}\n\nExamples:\n  $ spool schedules list\n  $ spool schedules sync --app src/spool.ts --dry-run\n  $ spool schedules pause nightly-report`,
    );
  const common = (command: Command) =>
    command.addOption(appOption()).addOption(backendOption()).addOption(dbOption()).addOption(jsonOption());

  common(schedules.command('list').description('List deployed schedules: trigger, task, state, last and next fire.'))
    .addHelpText('after', '\nExamples:\n  $ spool schedules list\n  $ spool schedules list --backend aws --json')
    .action(async (flags: Flags, command: Command) =>
      ctx.exit(await withScheduler(ctx, targetOf(flags, command), (r, s) => list(ctx, r, s, flags))),
    );

  common(
    schedules
      .command('sync')
      .description("Create, update and delete deployed schedules to match the app's code (idempotent).")
      .option('--dry-run', 'show what would change; change nothing'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ spool schedules sync --app src/spool.ts --dry-run\n  $ spool schedules sync --app src/spool.ts --backend aws',
    )
    .action(async (flags: Flags, command: Command) => ctx.exit(await sync(ctx, flags, targetOf(flags, command))));

  for (const [verb, state] of [
    ['pause', 'DISABLED'],
    ['resume', 'ENABLED'],
  ] as const) {
    common(
      schedules
        .command(verb)
        .description(
          verb === 'pause'
            ? 'Pause a schedule: it stops firing until resumed.'
            : 'Resume a paused schedule (fires missed while paused are not caught up).',
        )
        .argument('<name>', 'the schedule name'),
    )
      .addHelpText('after', `\nExamples:\n  $ spool schedules ${verb} nightly-report`)
      .action(async (name: string, flags: Flags, command: Command) =>
        ctx.exit(
          await withScheduler(ctx, targetOf(flags, command), async (_r, scheduler) => {
            if (!(await scheduler.setState(name, state))) throw notFound(name);
            if (flags.json) printJson(ctx.stdout, { name, state });
            else line(ctx.stdout, `Schedule ${name} ${verb === 'pause' ? 'paused' : 'resumed'}.`);
            return EXIT.ok;
          }),
        ),
      );
  }

  common(
    schedules
      .command('trigger')
      .description('Fire a schedule now, once, outside its timetable (even when paused).')
      .argument('<name>', 'the schedule name'),
  )
    .addHelpText('after', '\nExamples:\n  $ spool schedules trigger nightly-report --json')
    .action(async (name: string, flags: Flags, command: Command) =>
      ctx.exit(await withScheduler(ctx, targetOf(flags, command), (r, s) => trigger(ctx, r, s, name, flags))),
    );
}

async function withScheduler(
  ctx: CliContext,
  target: Target,
  run: (reader: Reader, scheduler: SchedulerPort) => Promise<number>,
): Promise<number> {
  const reader = await openReader(target, ctx.cwd);
  try {
    return await run(reader, schedulerOf(reader.backend, reader.description));
  } finally {
    await reader.close();
  }
}

function schedulerOf(backend: Backend, description: string): SchedulerPort {
  const { scheduler } = backend;
  if (scheduler === undefined) {
    throw new CliError(
      `${description} has no scheduler configured. On AWS set SPOOL_SCHEDULE_GROUP and SPOOL_SCHEDULER_ROLE_ARN (the TaskQueue construct's outputs).`,
      EXIT.usage,
    );
  }
  return scheduler;
}

function notFound(name: string): CliError {
  return new CliError(
    `no schedule named ${JSON.stringify(name)} is deployed (see \`spool schedules list\`).`,
    EXIT.failed,
  );
}

function nextFireOf(spec: ScheduleSpec, now: number): number | undefined {
  try {
    return nextFire(triggerOf(spec), now);
  } catch {
    return undefined;
  }
}

async function list(ctx: CliContext, reader: Reader, scheduler: SchedulerPort, flags: Flags): Promise<number> {
  const deployed = await scheduler.list();
  const now = Date.now();
  if (flags.json) {
    printJson(
      ctx.stdout,
      deployed.map((d) => ({
        ...d.spec,
        state: d.state,
        lastFireAt: iso(d.lastFireAt),
        nextFireAt: d.state === 'ENABLED' ? iso(nextFireOf(d.spec, now)) : undefined,
      })),
    );
    return EXIT.ok;
  }
  if (deployed.length === 0) {
    line(
      ctx.stdout,
      `No schedules deployed (${reader.description}). Deploy them with \`spool schedules sync --app …\`.`,
    );
    return EXIT.ok;
  }
  const rows = deployed.map((d: DeployedSchedule) => [
    d.spec.name,
    describeTrigger(triggerOf(d.spec)),
    d.spec.task,
    d.state === 'ENABLED' ? 'enabled' : 'paused',
    iso(d.lastFireAt) ?? '-',
    d.state === 'ENABLED' ? (iso(nextFireOf(d.spec, now)) ?? '-') : '-',
  ]);
  ctx.stdout.write(table(['NAME', 'TRIGGER', 'TASK', 'STATE', 'LAST FIRE', 'NEXT FIRE'], rows));
  return EXIT.ok;
}

async function sync(ctx: CliContext, flags: Flags, target: Target): Promise<number> {
  if (target.app === undefined) {
    throw new CliError('sync needs the code: pass --app <module> (or set SPOOL_APP).', EXIT.usage);
  }
  const spool = await loadApp(target, ctx.cwd);
  try {
    const scheduler = schedulerOf(spool.backend, describeBackend(spool.backend));
    let plan: SyncPlan;
    try {
      plan = planSync(spool.schedules.values(), await scheduler.list(), scheduler);
    } catch (error) {
      if (hasErrorCode(error, 'INVALID_CONFIGURATION')) throw new CliError(error.message, EXIT.usage);
      throw error;
    }
    if (!flags.dryRun) await applySync(scheduler, plan);
    if (flags.json) {
      printJson(ctx.stdout, {
        dryRun: flags.dryRun === true,
        create: plan.create.map((s) => s.name),
        update: plan.update.map((u) => u.to.name),
        delete: plan.remove.map((s) => s.name),
        unchanged: plan.unchanged,
      });
      return EXIT.ok;
    }
    const verb = flags.dryRun ? 'would' : 'did';
    if (planIsEmpty(plan)) line(ctx.stdout, `In step: ${plan.unchanged.length} schedule(s), nothing to change.`);
    for (const spec of plan.create) line(ctx.stdout, `+ create ${spec.name}: ${describeSpec(spec)}`);
    for (const { from, to } of plan.update) {
      line(
        ctx.stdout,
        `~ update ${to.name}:\n    was ${describeSpec(from)}${argsNote(from)}\n    now ${describeSpec(to)}${argsNote(to)}`,
      );
    }
    for (const spec of plan.remove) line(ctx.stdout, `- delete ${spec.name}: ${describeSpec(spec)}`);
    if (!planIsEmpty(plan)) {
      line(
        ctx.stdout,
        `(${verb === 'would' ? 'dry run: nothing changed' : 'done'}; ${plan.unchanged.length} unchanged)`,
      );
    }
    return EXIT.ok;
  } finally {
    await spool.close();
  }
}

function argsNote(spec: ScheduleSpec): string {
  return ` args ${JSON.stringify(spec.args)}`;
}

async function trigger(
  ctx: CliContext,
  reader: Reader,
  scheduler: SchedulerPort,
  name: string,
  flags: Flags,
): Promise<number> {
  const deployed = (await scheduler.list()).find((d) => d.spec.name === name);
  if (deployed === undefined) throw notFound(name);
  const now = Date.now();
  const run = fireRun(deployed.spec, now, { manual: true });
  await reader.backend.transport.tasks.send([run]);
  if (flags.json) printJson(ctx.stdout, { name, taskId: run.deduplicationId, at: iso(now) });
  else line(ctx.stdout, `Fired ${name} now: task id ${run.deduplicationId} (follow it with \`spool inspect\`).`);
  return EXIT.ok;
}
