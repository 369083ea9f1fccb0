/**
 * `npm run demo:schedules`: a 1-second rate schedule served by two scheduler processes at once on
 * one SQLite file for about 10 seconds, and a run delayed by 2 seconds. Prints a short report and,
 * last, one JSON line: {"fires":…,"duplicateRuns":…,"delayedLateMs":…}.
 */

import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createSchedulesApp, type Effect } from './app.js';

const DIR = join('.spool', 'schedules-demo');
const DB = join(DIR, 'spool.db');
const EFFECTS = join(DIR, 'effects.jsonl');
const RUN_MS = 10_000;
const DELAY_MS = 2000;

function startScheduler(): Promise<{ exited: Promise<number> }> {
  const file = fileURLToPath(new URL('./scheduler-process.ts', import.meta.url));
  const child = fork(file, [DB, EFFECTS, String(RUN_MS)], { execArgv: ['--import', 'tsx'] });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ exited }));
    child.once('exit', (code) => reject(new Error(`a scheduler process exited with code ${code} before it was ready`)));
  });
}

async function main(): Promise<number> {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  // Create the file (and its schema) once, before two processes race to.
  openEmbeddedBackend({ path: DB }).close();
  console.log(
    `Two scheduler processes fire "heartbeat" every second for ${RUN_MS / 1000} s; one run is delayed by ${DELAY_MS / 1000} s.`,
  );
  const schedulers = await Promise.all([startScheduler(), startScheduler()]);

  const logger = createLogger({ format: 'pretty', level: 'warn' });
  const app = createSchedulesApp({ backend: openEmbeddedBackend({ path: DB }), effectsFile: EFFECTS, logger });
  const dueAt = Date.now() + DELAY_MS;
  const handle = await app.spool.enqueue(app.tasks.remind, { message: 'call back', dueAt }, { runAt: dueAt });
  await handle.result({ timeoutMs: DELAY_MS + 10_000 });

  const codes = await Promise.all(schedulers.map((s) => s.exited));
  await app.spool.close();
  if (codes.some((code) => code !== 0)) {
    console.error(`a scheduler process failed (exit codes ${codes.join(', ')})`);
    return 1;
  }

  const effects = readFileSync(EFFECTS, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Effect);
  const runsPerId = new Map<string, number>();
  for (const e of effects) runsPerId.set(e.taskId, (runsPerId.get(e.taskId) ?? 0) + 1);
  const fires = effects.filter((e) => e.task === 'demo.heartbeat');
  const fireIds = new Set(fires.map((e) => e.taskId));
  const duplicateRuns = [...runsPerId.values()].reduce((sum, n) => sum + (n - 1), 0);
  const byPid = new Map<number, number>();
  for (const e of fires) byPid.set(e.pid, (byPid.get(e.pid) ?? 0) + 1);
  const lateness = fires
    .map((e) => e.startedAt - Date.parse(e.taskId.slice('sched:heartbeat:'.length)))
    .sort((a, b) => a - b);
  const reminder = effects.find((e) => e.task === 'demo.remind');
  const delayedLateMs = reminder?.dueAt === undefined ? -1 : reminder.startedAt - reminder.dueAt;

  console.log(`  fires run:           ${fireIds.size} (one run each: ${duplicateRuns === 0 ? 'yes' : 'NO'})`);
  console.log(`  runs per process:    ${[...byPid.values()].join(' + ')}`);
  console.log(
    `  fire → start:        median ${lateness[Math.floor(lateness.length / 2)] ?? '-'} ms, max ${lateness[lateness.length - 1] ?? '-'} ms`,
  );
  console.log(`  delayed run started: ${delayedLateMs} ms after its time`);
  console.log(JSON.stringify({ fires: fireIds.size, duplicateRuns, delayedLateMs }));
  return duplicateRuns === 0 && delayedLateMs >= 0 && delayedLateMs <= 1000 && fireIds.size > 0 ? 0 : 1;
}

process.exitCode = await main();
