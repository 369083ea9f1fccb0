/**
 * `npm run chaos`: the chaos suite (RELIABILITY.md). Runs N worker processes on each backend, on
 * the package's public entry points, while it SIGKILLs one at random every 1–5 s and starts
 * another; leases of 2–3 s that some runs outlive (heartbeats must carry them), CPU-blocking
 * handlers (`--blocking on`), runs enqueued twice or delivered twice, ordering groups, and 10% of
 * runs failing some attempts. Every attempt's start, effect and end goes to a ledger that
 * survives SIGKILL; once every run has ended, it reports per backend the runs, the kills, and
 * what must be 0: lost runs, overlapping attempts, attempts after success and double effects not
 * explained by a kill. Exits 1 when one is not 0.
 *
 * Usage: `npm run chaos [-- --backend embedded|aws|both] [--processes N] [--tasks N] [--blocking on|off] [--seed N] [--timeout S] [--json] [--keep]`.
 * Progress goes to stderr; with `--json` the last line of stdout is one JSON object.
 *
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEndpoint } from '../localstack/ministack.js';
import { type Figures, passed } from './chaos/analyse.js';
import { type BackendName, type ChaosBackend, openAws, openEmbedded } from './chaos/backends.js';
import type { Fleet } from './chaos/fleet.js';
import { chaosJson, renderFigures } from './chaos/report.js';
import { runSuite } from './chaos/suite.js';
import { benchOptions, failUsage } from './options.js';

const USAGE = `Usage: npm run chaos [-- options]
  --backend embedded|aws|both   which backends (default both)
  --processes N                 worker processes per backend (default: embedded 4, aws 3)
  --tasks N                     runs per backend (default: embedded 5000, aws 1000)
  --blocking on|off             CPU-blocking handlers, longer than the lease, on 0.5% of runs (default on)
  --seed N                      the workload's seed (default: random, printed)
  --timeout S                   seconds to wait for every run to end, per backend (default 900)
  --json                        the last line of stdout is one JSON object
  --keep                        keep the temporary directory (ledger files, embedded database) to look into`;

/** The defaults of each backend: the done-when (≥ 4 × 5,000 embedded, ≥ 3 × 1,000 on AWS). */
const DEFAULTS = {
  embedded: { processes: 4, tasks: 5000, leaseSeconds: 2, concurrency: 16 },
  aws: { processes: 3, tasks: 1000, leaseSeconds: 3, concurrency: 10 },
} as const satisfies Record<BackendName, object>;

const say = (line: string) => process.stderr.write(`chaos: ${line}\n`);

/** What Ctrl-C or a failure must stop. */
const live: { fleet?: Fleet | undefined; ministack?: RunningEndpoint | undefined; dir?: string | undefined } = {};

function emergencyStop(): void {
  live.fleet?.killAll();
  if (live.ministack !== undefined) {
    try {
      process.kill(live.ministack.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (live.dir !== undefined) rmSync(live.dir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const { values, count } = benchOptions(USAGE, {
    backend: { type: 'string', default: 'both' },
    processes: { type: 'string' },
    tasks: { type: 'string' },
    blocking: { type: 'string', default: 'on' },
    seed: { type: 'string' },
    timeout: { type: 'string', default: '900' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  });
  const backends: BackendName[] =
    values.backend === 'both'
      ? ['embedded', 'aws']
      : values.backend === 'embedded' || values.backend === 'aws'
        ? [values.backend]
        : failUsage(USAGE, `--backend must be embedded, aws or both, got ${JSON.stringify(values.backend)}`);
  if (values.blocking !== 'on' && values.blocking !== 'off') {
    failUsage(USAGE, `--blocking must be on or off, got ${JSON.stringify(values.blocking)}`);
  }
  const blocking = values.blocking === 'on';
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count('seed', values.seed);
  const timeoutMs = count('timeout', values.timeout) * 1000;
  say(`seed ${seed} (--seed ${seed} repeats the workload), blocking ${blocking ? 'on' : 'off'}`);

  const all: Figures[] = [];
  for (const name of backends) {
    const defaults = DEFAULTS[name];
    const processes = values.processes === undefined ? defaults.processes : count('processes', values.processes);
    const tasks = values.tasks === undefined ? defaults.tasks : count('tasks', values.tasks);
    const dir = mkdtempSync(join(tmpdir(), `spool-chaos-${name}-`));
    live.dir = dir;
    let chaos: ChaosBackend | undefined;
    try {
      chaos =
        name === 'embedded'
          ? await openEmbedded(dir)
          : await openAws({
              visibilityTimeoutSeconds: defaults.leaseSeconds,
              log: say,
              onStarted: (endpoint) => {
                live.ministack = endpoint;
              },
            });
      say(`${name}: ${processes} processes × ${tasks} runs, lease ${defaults.leaseSeconds} s, ledger in ${dir}`);
      const figures = await runSuite(chaos, {
        processes,
        tasks,
        blocking,
        seed,
        leaseSeconds: defaults.leaseSeconds,
        concurrency: defaults.concurrency,
        timeoutMs,
        dir,
        log: say,
        onFleet: (fleet) => {
          live.fleet = fleet;
        },
      });
      all.push(figures);
      say(`${name}: ${passed(figures) ? 'passed' : 'FAILED'}`);
    } finally {
      live.fleet?.killAll();
      live.fleet = undefined;
      await chaos?.close();
      live.ministack = undefined;
      if (values.keep === true) say(`${name}: kept the ledger and database in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
      live.dir = undefined;
    }
  }
  process.stdout.write(`${renderFigures(all)}\n`);
  if (values.json === true) process.stdout.write(`${chaosJson(all)}\n`);
  return all.every(passed) ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping every process this started`);
    emergencyStop();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    emergencyStop();
    process.exitCode = 1;
  },
);
