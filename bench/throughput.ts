/**
 * `npm run bench`: spool's embedded runtime against BullMQ on Redis, side by side in one run.
 *
 * Same workload for both (no-op tasks): bulk enqueue rate; processing rate with one worker at
 * concurrency 10 and 50 (tasks already enqueued); enqueue→start latency p50/p99 with a worker
 * running at concurrency 10 and tasks enqueued one by one, 1 ms apart. For the embedded runtime
 * only, the same latency with the producer and the worker in two processes (the worker spawned as
 * a child, as with an app and `spool worker`); with `--cross-process-polling` also with the
 * cross-process wake-ups off, the two modes alternating round by round. Phases are interleaved,
 * each on an empty queue: every bulk phase runs `--rounds` times per system, the two systems
 * alternating (and taking turns at going first), and the rates reported are the medians of the
 * rounds, so a burst of load from the machine's other jobs hits one round of one system, not the
 * result. See BENCHMARKS.md.
 *
 * Usage: `npm run bench [-- --tasks N] [--latency-tasks N] [--rounds N] [--cross-process-polling] [--json]`. With `--json`
 * the last line of stdout is one JSON object; progress goes to stderr.
 *
 * @module
 */

import { availableParallelism } from 'node:os';
import { bullmqSystem } from './bullmq.js';
import { type EmbeddedSystem, embeddedSystem } from './embedded.js';
import { benchOptions } from './options.js';
import { RedisNotFoundError, type RedisServer, startRedis } from './redis.js';
import {
  type CrossProcessResults,
  jsonLine,
  latencyResult,
  median,
  percentile,
  perSecond,
  renderCrossProcess,
  renderTable,
  roundMs,
  type SystemName,
  type SystemResult,
  type SystemUnderTest,
} from './report.js';

const USAGE = `Usage: npm run bench -- [--tasks N] [--latency-tasks N] [--rounds N] [--cross-process-polling] [--json]
  --tasks N                tasks per bulk phase (default 10000)
  --latency-tasks N        tasks enqueued one by one for each latency phase (default 1000)
  --rounds N               bulk phases per system and concurrency, alternating; rates are their medians (default 3)
  --cross-process-polling  also measure the cross-process latency with the wake-ups off (polling only),
                           alternating with them on over --rounds rounds
  --json                   print the results as one JSON object on the last line of stdout`;

interface Options {
  readonly tasks: number;
  readonly latencyTasks: number;
  readonly rounds: number;
  readonly crossProcessPolling: boolean;
  readonly json: boolean;
}

function parseOptions(): Options {
  const { values, count } = benchOptions(USAGE, {
    tasks: { type: 'string', default: '10000' },
    'latency-tasks': { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    'cross-process-polling': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  return {
    tasks: count('tasks', values.tasks),
    latencyTasks: count('latency-tasks', values['latency-tasks']),
    rounds: count('rounds', values.rounds),
    crossProcessPolling: values['cross-process-polling'] === true,
    json: values.json === true,
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Measurements collected for one system. */
interface Samples {
  enqueueTasks: number;
  enqueueMs: number;
  /** Processing rate of each round, by concurrency. */
  processPerSecond: Map<number, number[]>;
  latencies: number[];
}

async function main(): Promise<void> {
  const options = parseOptions();
  let server: RedisServer;
  try {
    server = await startRedis();
  } catch (error) {
    if (error instanceof RedisNotFoundError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const systems: SystemUnderTest[] = [];
  try {
    progress(
      `machine: ${availableParallelism()} CPUs, node ${process.version}, redis ${server.version} ` +
        `(${server.executable}, in-memory, 127.0.0.1:${server.port}, pid ${server.pid})`,
    );
    const embedded = embeddedSystem();
    systems.push(embedded, bullmqSystem(server));
    const samples = new Map<SystemName, Samples>(
      systems.map((s) => [s.name, { enqueueTasks: 0, enqueueMs: 0, processPerSecond: new Map(), latencies: [] }]),
    );

    const warmup = Math.min(1000, options.tasks);
    for (const system of systems) {
      await system.bulk(warmup, 10);
      await system.latency(Math.min(100, options.latencyTasks), 10);
      progress(`${system.name}: warmed up (${warmup} bulk + latency tasks, not counted)`);
    }
    for (const concurrency of [10, 50]) {
      for (let round = 1; round <= options.rounds; round++) {
        // Take turns at going first, so neither system always runs right after the other.
        for (const system of round % 2 === 1 ? systems : [...systems].reverse()) {
          const timing = await system.bulk(options.tasks, concurrency);
          const sample = samples.get(system.name);
          if (sample === undefined) throw new Error(`no samples for ${system.name}`);
          sample.enqueueTasks += options.tasks;
          sample.enqueueMs += timing.enqueueMs;
          const rate = perSecond(options.tasks, timing.processMs);
          sample.processPerSecond.set(concurrency, [...(sample.processPerSecond.get(concurrency) ?? []), rate]);
          progress(
            `${system.name} @${concurrency} round ${round}/${options.rounds}: enqueued ${options.tasks} in ` +
              `${timing.enqueueMs.toFixed(0)} ms (${perSecond(options.tasks, timing.enqueueMs)}/s); processed in ` +
              `${timing.processMs.toFixed(0)} ms (${rate}/s); worker stopped ${timing.drainMs.toFixed(0)} ms after the last task`,
          );
        }
      }
    }
    const roundsLine = (concurrency: number) =>
      systems
        .map((system) => {
          const rates = samples.get(system.name)?.processPerSecond.get(concurrency) ?? [];
          return `${system.name} ${rates.map((r) => r.toLocaleString('en-US')).join(', ')}`;
        })
        .join('; ');
    for (const system of systems) {
      const latencies = await system.latency(options.latencyTasks, 10);
      samples.get(system.name)?.latencies.push(...latencies);
      progress(
        `${system.name}: latency over ${latencies.length} tasks: p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
          `p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${percentile(latencies, 100).toFixed(2)} ms`,
      );
    }

    const crossProcess = await measureCrossProcess(embedded, options);

    const resultOf = (name: SystemName): SystemResult => {
      const s = samples.get(name);
      if (s === undefined) throw new Error(`no samples for ${name}`);
      return {
        enqueuePerSecond: perSecond(s.enqueueTasks, s.enqueueMs),
        processPerSecond: Math.round(median(s.processPerSecond.get(50) ?? [])),
        processPerSecondAt10: Math.round(median(s.processPerSecond.get(10) ?? [])),
        p50Ms: roundMs(percentile(s.latencies, 50)),
        p99Ms: roundMs(percentile(s.latencies, 99)),
      };
    };
    const results = { embedded: resultOf('embedded'), bullmq: resultOf('bullmq') };
    process.stdout.write(
      `\n${options.tasks.toLocaleString('en-US')} no-op tasks per bulk phase, ` +
        `${options.latencyTasks.toLocaleString('en-US')} for latency; process rates are the median of ` +
        `${options.rounds} alternating round(s)\n\n${renderTable(results)}\n\n` +
        `process/s per round @10: ${roundsLine(10)}\nprocess/s per round @50: ${roundsLine(50)}\n\n` +
        `${renderCrossProcess(crossProcess)}\n\n${crossProcess.tasks.toLocaleString('en-US')} tasks per mode, ` +
        'enqueued one by one 1 ms apart to a worker at concurrency 10 in another process\n',
    );
    if (options.json) process.stdout.write(`${jsonLine(results, crossProcess)}\n`);
  } finally {
    for (const system of systems) await system.close();
    await server.stop();
  }
}

/**
 * The embedded runtime's latency with the worker in another process: `--latency-tasks` tasks with
 * the wake-ups on; with `--cross-process-polling`, as many with them off, the two modes alternating
 * over `--rounds` rounds (taking turns at going first), each round a fresh worker process and file.
 */
async function measureCrossProcess(embedded: EmbeddedSystem, options: Options): Promise<CrossProcessResults> {
  const modes = options.crossProcessPolling ? [true, false] : [true];
  const rounds = options.crossProcessPolling ? options.rounds : 1;
  const perRound = Math.ceil(options.latencyTasks / rounds);
  const latencies = new Map<boolean, number[]>(modes.map((wake) => [wake, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const wake of round % 2 === 1 ? modes : [...modes].reverse()) {
      const measured = await embedded.crossProcessLatency(perRound, 10, wake);
      latencies.get(wake)?.push(...measured);
      progress(
        `embedded cross-process (${wake ? 'wake-up' : 'polling only'}) round ${round}/${rounds}: ` +
          `${measured.length} tasks: p50 ${percentile(measured, 50).toFixed(2)} ms, ` +
          `p99 ${percentile(measured, 99).toFixed(2)} ms, max ${percentile(measured, 100).toFixed(2)} ms`,
      );
    }
  }
  const polling = latencies.get(false);
  return {
    wake: latencyResult(latencies.get(true) ?? []),
    ...(polling ? { polling: latencyResult(polling) } : {}),
    tasks: perRound * rounds,
  };
}

await main();
