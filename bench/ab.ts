/**
 * `npm run bench:ab -- --base <dir>`: is a change to the embedded runtime faster? Runs the same
 * bulk phase (no-op tasks, one worker at concurrency 50, like `npm run bench`) on two checkouts of
 * spool in **one process**, alternating round by round (and taking turns at going first), so the
 * load of the machine's other jobs falls on both alike. Reports, per checkout, the median rate and
 * the median CPU time of the main thread per task while processing (from
 * `/proc/self/task/<pid>/schedstat`, so the WAL-checkpoint thread is not counted; Linux only), and
 * the per-round CPU ratio `head / base` (`head`: this checkout unless `--head` names another).
 *
 * It measures what users run: each checkout's built package (`dist/esm`, built first with that
 * checkout's `node pack/build.mjs`), not its TypeScript sources under tsx, whose per-function
 * name helpers make every closure dearer than it is in the package. `--source` compares the
 * sources instead.
 *
 * Make the base checkout with `git worktree add /tmp/spool-base <commit>`, then give it
 * dependencies (`ln -s "$PWD/node_modules" /tmp/spool-base/`, or `npm ci` there). Usage:
 * `npm run bench:ab -- --base /tmp/spool-base [--rounds 8] [--tasks 10000] [--concurrency 50]`.
 *
 * @module
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { createSpool as CreateSpool } from '../lib/client/spool.js';
import type { openEmbeddedBackend as OpenEmbeddedBackend } from '../lib/embedded/backend.js';
import type { Logger } from '../lib/log/logger.js';
import type { defineTask as DefineTask } from '../lib/task/define.js';
import { benchOptions, failUsage } from './options.js';
import { countdown, median } from './report.js';

const USAGE = `Usage: npm run bench:ab -- --base <dir> [--head <dir>] [--rounds N] [--tasks N] [--concurrency N] [--source]
  --base DIR         another checkout of spool (git worktree add DIR <commit>)
  --head DIR         the checkout compared with it (default: this one)
  --rounds N         rounds per checkout, alternating (default 8)
  --tasks N          tasks per round (default 10000)
  --concurrency N    worker concurrency (default 50)
  --source           load each checkout's lib/*.ts under tsx instead of building its dist/esm`;

/** Longest one round may take before the comparison gives up, ms. */
const ROUND_TIMEOUT_MS = 600_000;

/** The parts of a checkout's library one round uses. */
interface Library {
  readonly createSpool: typeof CreateSpool;
  readonly openEmbeddedBackend: typeof OpenEmbeddedBackend;
  readonly defineTask: typeof DefineTask;
  readonly silentLogger: Logger;
}

/** One round's figures. */
interface Round {
  readonly perSecond: number;
  /** Main-thread CPU per task while processing, µs. */
  readonly cpuMicros: number;
  /** CPU of the whole process (every thread: WAL checkpoints, a lease keeper) per task, µs. */
  readonly processCpuMicros: number;
}

const fail = (message: string): never => failUsage(USAGE, message);

function options() {
  const { values, count } = benchOptions(USAGE, {
    base: { type: 'string' },
    head: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    tasks: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    source: { type: 'boolean', default: false },
  });
  if (typeof values.base !== 'string') fail('--base is required: the checkout to compare this one with');
  const checkout = (option: string, dir: string) => {
    const root = resolve(dir);
    if (!existsSync(join(root, 'lib', 'client', 'spool.ts'))) {
      fail(`--${option} ${root} is not a checkout of spool (no lib/client/spool.ts); make one with git worktree add`);
    }
    if (!existsSync(join(root, 'node_modules'))) {
      fail(`--${option} ${root} has no node_modules: run npm ci there, or ln -s "$PWD/node_modules" ${root}/`);
    }
    return root;
  };
  return {
    base: checkout('base', String(values.base)),
    head: checkout('head', typeof values.head === 'string' ? values.head : resolve(import.meta.dirname, '..')),
    rounds: count('rounds', values.rounds),
    tasks: count('tasks', values.tasks),
    concurrency: count('concurrency', values.concurrency),
    source: values.source === true,
  };
}

/** CPU time this process's main thread has run, ns. */
function mainThreadCpuNs(): number {
  const path = `/proc/self/task/${process.pid}/schedstat`;
  if (!existsSync(path)) fail(`${path} is missing: bench:ab measures per-thread CPU time, which needs Linux`);
  return Number(readFileSync(path, 'utf8').split(' ')[0]);
}

/**
 * Load the parts of a checkout a round uses: from its `dist/esm` (built here, by its own build
 * script), or with `source`, from its TypeScript sources.
 */
async function load(root: string, source: boolean): Promise<Library> {
  if (!source) {
    const build = join(root, 'pack', 'build.mjs');
    if (!existsSync(build))
      fail(`${root} has no pack/build.mjs to build its package with; compare the sources with --source`);
    execFileSync(process.execPath, [build], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const module = (path: string) =>
    import(
      pathToFileURL(source ? join(root, 'lib', path) : join(root, 'dist', 'esm', 'lib', path.replace(/\.ts$/, '.js')))
        .href
    );
  return {
    createSpool: (await module('client/spool.ts')).createSpool,
    openEmbeddedBackend: (await module('embedded/backend.ts')).openEmbeddedBackend,
    defineTask: (await module('task/define.ts')).defineTask,
    silentLogger: (await module('log/logger.ts')).silentLogger,
  };
}

/** Enqueue `tasks` no-op tasks on a fresh file, then process them with one worker. */
async function round(library: Library, path: string, tasks: number, concurrency: number): Promise<Round> {
  const done = countdown(tasks, ROUND_TIMEOUT_MS, `bench:ab round of ${tasks}`);
  const task = library.defineTask({
    name: 'bench.noop',
    schema: z.object({ i: z.number(), t: z.number() }),
    idempotencyKey: false,
    handler: () => done.tick(),
  });
  const backend = library.openEmbeddedBackend({ path });
  const spool = library.createSpool({ backend, tasks: [task], logger: library.silentLogger });
  try {
    await spool.enqueueMany(
      task,
      Array.from({ length: tasks }, (_, i) => ({ i, t: 0 })),
    );
    const worker = spool.worker({ concurrency });
    const cpuStart = mainThreadCpuNs();
    const processStart = process.cpuUsage();
    const started = performance.now();
    await worker.start();
    const lastRun = await done.done;
    const cpuMicros = (mainThreadCpuNs() - cpuStart) / 1000 / tasks;
    const processUsage = process.cpuUsage(processStart);
    const processCpuMicros = (processUsage.user + processUsage.system) / tasks;
    await worker.stop();
    return { perSecond: Math.round(tasks / ((lastRun - started) / 1000)), cpuMicros, processCpuMicros };
  } finally {
    await spool.close();
  }
}

async function main(): Promise<void> {
  const { base, head, rounds, tasks, concurrency, source } = options();
  const checkouts = [
    { name: 'base', root: base },
    { name: 'head', root: head },
  ] as const;
  const libraries = await Promise.all(checkouts.map((c) => load(c.root, source)));
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-ab-'));
  const results: Round[][] = [[], []];
  let file = 0;
  try {
    // Warm-up, not counted.
    for (const library of libraries) await round(library, join(dir, `${file++}.db`), 1000, concurrency);
    for (let r = 0; r < rounds; r++) {
      for (const index of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const library = libraries[index] as Library;
        const result = await round(library, join(dir, `${file++}.db`), tasks, concurrency);
        results[index]?.push(result);
        rmSync(join(dir, `${file - 1}.db`), { force: true });
        process.stderr.write(
          `round ${r + 1}/${rounds} ${checkouts[index]?.name}: ${result.perSecond}/s, ${result.cpuMicros.toFixed(1)} µs CPU per task (process: ${result.processCpuMicros.toFixed(1)} µs)\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [baseRounds = [], theseRounds = []] = results;
  for (const [index, checkout] of checkouts.entries()) {
    const list = results[index] ?? [];
    process.stdout.write(
      `${checkout.name.padEnd(4)} ${checkout.root}: median ${Math.round(median(list.map((r) => r.perSecond))).toLocaleString('en-US')}/s, ` +
        `median ${median(list.map((r) => r.cpuMicros)).toFixed(1)} µs CPU per task (process: ${median(list.map((r) => r.processCpuMicros)).toFixed(1)} µs)\n`,
    );
  }
  const ratios = theseRounds.map((r, i) => r.cpuMicros / (baseRounds[i]?.cpuMicros ?? Number.NaN));
  const processRatios = theseRounds.map((r, i) => r.processCpuMicros / (baseRounds[i]?.processCpuMicros ?? Number.NaN));
  process.stdout.write(
    `CPU per task, head / base, per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(3)}\n` +
      `process CPU per task, head / base, median ${median(processRatios).toFixed(3)}\n`,
  );
}

await main();
