/**
 * One suite run on one backend: start the fleet, enqueue the planned runs (some twice, some
 * delivered twice, some in ordering groups) while the chaos loop kills workers, wait until every
 * run reached a final state (through the public API, with a timeout), stop the fleet, and read
 * the ledger back into the figures.
 *
 * @module
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createProducer,
  isTerminal,
  MAX_BATCH,
  PROTOCOL_VERSION,
  type Producer,
  silentLogger,
  type TaskHandle,
  type TaskState,
} from 'spool-tasks';
import { type AnalysisInput, analyse, type Figures, type RunOutcome } from './analyse.js';
import type { ChaosBackend } from './backends.js';
import { Fleet } from './fleet.js';
import { readLedger } from './ledger.js';
import { type ChaosContract, chaosContract, EXPECTED_STATE, type PlannedRun, planRuns, seededRandom } from './plan.js';

/** The settings of one suite run. */
export interface SuiteOptions {
  readonly processes: number;
  readonly tasks: number;
  readonly blocking: boolean;
  readonly seed: number;
  readonly leaseSeconds: number;
  /** Handler slots per worker process. */
  readonly concurrency: number;
  /** How long to wait for every run to end, ms. */
  readonly timeoutMs: number;
  /** The temporary directory: ledger files (and the embedded database). */
  readonly dir: string;
  readonly log: (line: string) => void;
  /** Hears of the fleet once it exists (so Ctrl-C can kill it). */
  readonly onFleet: (fleet: Fleet) => void;
}

const WORKER_SCRIPT = join(import.meta.dirname, 'worker.ts');

/** Run the suite on `chaos` and compute its figures. */
export async function runSuite(chaos: ChaosBackend, options: SuiteOptions): Promise<Figures> {
  const { log } = options;
  const contract = chaosContract(options.leaseSeconds);
  const plan = planRuns({
    tasks: options.tasks,
    seed: options.seed,
    leaseSeconds: options.leaseSeconds,
    blocking: options.blocking,
    tag: `${chaos.name}-${options.seed}-${Date.now().toString(36)}`,
  });
  const producer = createProducer({ backend: chaos.backend, tasks: [contract], logger: silentLogger });
  const fleet = new Fleet({
    processes: options.processes,
    args: [
      WORKER_SCRIPT,
      chaos.name,
      options.dir,
      String(options.leaseSeconds),
      String(options.concurrency),
      ...chaos.workerArgs,
    ],
    env: chaos.env,
    killEveryMs: [1000, 5000],
    random: seededRandom(options.seed ^ 0x5eed),
    log,
  });
  options.onFleet(fleet);
  await fleet.start();
  log(`${chaos.name}: ${options.processes} worker processes ready; enqueueing ${options.tasks} runs (chaos on)`);
  const started = performance.now();
  fleet.startChaos();

  const handles = await enqueuePlan(producer, contract, plan);
  const duplicateRuns = await enqueueAgain(producer, contract, plan, handles);
  await deliverAgain(producer, contract, plan, handles);
  log(`${chaos.name}: enqueued; waiting for every run to end (timeout ${Math.round(options.timeoutMs / 1000)} s)`);

  const states = await waitForFinalStates(handles, options.timeoutMs, (line) => log(`${chaos.name}: ${line}`));
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  await fleet.stop();
  log(`${chaos.name}: fleet stopped after ${seconds} s, ${fleet.kills} kills; reading the ledger`);

  const outcomes: RunOutcome[] = [];
  for (let i = 0; i < plan.length; i++) {
    const run = plan[i];
    const handle = handles[i];
    if (run === undefined || handle === undefined) continue;
    const info = await handle.info();
    outcomes.push({
      id: handle.id,
      expected: EXPECTED_STATE[run.args.fate],
      state: info?.state ?? states[i],
      attempt: info?.attempt,
      error: info?.error === undefined ? undefined : `${info.error.name}: ${info.error.message}`,
    });
  }
  const input: AnalysisInput = {
    backend: chaos.name,
    blocking: options.blocking,
    processes: options.processes,
    outcomes,
    entries: readLedger(options.dir),
    records: fleet.records,
    duplicateRuns,
    seconds,
    maxAttempts: contract.retry.maxAttempts,
  };
  return analyse(input);
}

/** Enqueue every run: the ungrouped in one bulk call, each ordering group in one (in order). */
async function enqueuePlan(
  producer: Producer,
  contract: ChaosContract,
  plan: readonly PlannedRun[],
): Promise<TaskHandle[]> {
  const handles: TaskHandle[] = new Array(plan.length);
  const groups = new Map<string | undefined, number[]>();
  plan.forEach((run, i) => {
    const list = groups.get(run.orderingKey) ?? [];
    list.push(i);
    groups.set(run.orderingKey, list);
  });
  for (const [orderingKey, indexes] of groups) {
    const args = indexes.map((i) => plan[i]?.args).filter((a) => a !== undefined);
    const made = await producer.enqueueMany(contract, args, orderingKey === undefined ? {} : { orderingKey });
    made.forEach((handle, n) => {
      const i = indexes[n];
      if (i !== undefined) handles[i] = handle;
    });
  }
  return handles;
}

/** Enqueue the chosen runs once more (same idempotency key); count those that became another run. */
async function enqueueAgain(
  producer: Producer,
  contract: ChaosContract,
  plan: readonly PlannedRun[],
  handles: readonly TaskHandle[],
): Promise<number> {
  let other = 0;
  for (let i = 0; i < plan.length; i++) {
    const run = plan[i];
    if (run?.enqueueTwice !== true) continue;
    const again = await producer.enqueue(
      contract,
      run.args,
      run.orderingKey === undefined ? {} : { orderingKey: run.orderingKey },
    );
    if (again.id !== handles[i]?.id) other++;
  }
  return other;
}

/**
 * Send a second message for the chosen runs with another deduplication id (as a producer retrying
 * after the queue's 5-minute window would): only the store's claim keeps them from running twice.
 */
async function deliverAgain(
  producer: Producer,
  contract: ChaosContract,
  plan: readonly PlannedRun[],
  handles: readonly TaskHandle[],
): Promise<void> {
  const messages = plan.flatMap((run, i) => {
    const id = handles[i]?.id;
    if (!run.lateDuplicate || id === undefined) return [];
    const body = JSON.stringify({ spool: PROTOCOL_VERSION, id, task: contract.name, args: run.args });
    return [{ body, deduplicationId: `${id}-late`, groupId: run.orderingKey ?? `${id}-late` }];
  });
  for (let i = 0; i < messages.length; i += MAX_BATCH) {
    await producer.backend.transport.tasks.send(messages.slice(i, i + MAX_BATCH));
  }
}

/**
 * Poll the runs not yet final (in parallel batches) until all are, or `timeoutMs` passed; the
 * last state seen of each run.
 */
async function waitForFinalStates(
  handles: readonly TaskHandle[],
  timeoutMs: number,
  log: (line: string) => void,
): Promise<(TaskState | undefined)[]> {
  const states: (TaskState | undefined)[] = new Array(handles.length);
  let open = handles.map((_, i) => i);
  const deadline = performance.now() + timeoutMs;
  let lastReport = performance.now();
  while (open.length > 0) {
    const still: number[] = [];
    for (let b = 0; b < open.length; b += 50) {
      const batch = open.slice(b, b + 50);
      const seen = await Promise.all(batch.map((i) => handles[i]?.status()));
      batch.forEach((i, n) => {
        const state = seen[n];
        states[i] = state;
        if (state === undefined || !isTerminal(state)) still.push(i);
      });
    }
    open = still;
    if (open.length === 0) break;
    if (performance.now() > deadline) {
      log(`timed out with ${open.length} runs not ended`);
      break;
    }
    if (performance.now() - lastReport > 10_000) {
      log(`${handles.length - open.length} of ${handles.length} runs ended`);
      lastReport = performance.now();
    }
    await sleep(1000);
  }
  return states;
}
