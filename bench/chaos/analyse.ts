/**
 * What the ledger, the fleet's process records and the runs' final states say: the suite's
 * figures. Every figure but `runs`, `kills` and the counts of what happened must be 0.
 *
 * - **lost**: a run whose final state is not the one planned (`succeeded`, or `dead` / `failed`
 *   for the runs that fail on purpose), that never reached one before the timeout, or that
 *   succeeded without any effect in the ledger.
 * - **overlappingAttempts**: pairs of attempts of one run (in one process or two) whose intervals
 *   overlap; an attempt's interval is its start to its end, or to its process's death when it was
 *   killed (or still running when its process exited).
 * - **attemptsAfterSuccess**: attempts that started after the end of the run's successful
 *   attempt (the attempt the store recorded as the success).
 * - **unexplainedDoubleEffects**: a run's effect that follows an earlier effect whose attempt was
 *   not ended by a SIGKILL of its process before its success was recorded (no `F` line) and
 *   before the later effect. An effect
 *   followed by a kill before the finish write is the at-least-once case the design allows: the
 *   run is taken over and its effect repeated, which is why handlers pass `ctx.taskId` on as an
 *   idempotency key.
 *
 * @module
 */

import type { TaskState } from 'spool-tasks';
import type { ProcessRecord } from './fleet.js';
import type { LedgerEntry } from './ledger.js';

/** A run and how it ended, from the public API. */
export interface RunOutcome {
  readonly id: string;
  readonly expected: TaskState;
  /** The final state, or the last state seen when the wait timed out. */
  readonly state: TaskState | undefined;
  /** The store's attempt count. */
  readonly attempt: number | undefined;
  /** The run's last error, `name: message`. */
  readonly error?: string | undefined;
}

/** The figures of one backend. */
export interface Figures {
  readonly backend: string;
  readonly runs: number;
  readonly kills: number;
  readonly lost: number;
  readonly overlappingAttempts: number;
  readonly attemptsAfterSuccess: number;
  readonly unexplainedDoubleEffects: number;
  /** Counts of what happened (not failures). */
  readonly processes: number;
  readonly blocking: boolean;
  readonly attempts: number;
  readonly effects: number;
  readonly explainedDoubleEffects: number;
  readonly retriedRuns: number;
  /**
   * Runs that ended `dead` because each of their `maxAttempts` attempts was ended by a SIGKILL of
   * its process or failed as planned: what the retry policy says, not a lost run.
   */
  readonly deadByKills: number;
  /** Worker processes that exited by themselves: must be 0. */
  readonly crashes: number;
  /** Second enqueues with the same idempotency key that returned another run: must be 0. */
  readonly duplicateRuns: number;
  readonly seconds: number;
  /** Up to five task ids per failing figure, to look into. */
  readonly examples: Readonly<Record<string, readonly string[]>>;
}

/** The inputs of {@link analyse}. */
export interface AnalysisInput {
  readonly backend: string;
  readonly blocking: boolean;
  readonly processes: number;
  readonly outcomes: readonly RunOutcome[];
  readonly entries: readonly LedgerEntry[];
  readonly records: readonly ProcessRecord[];
  readonly duplicateRuns: number;
  readonly seconds: number;
  /** The task's `retry.maxAttempts`. */
  readonly maxAttempts: number;
}

interface Attempt {
  readonly taskId: string;
  readonly attempt: number;
  readonly pid: number;
  start: number;
  end?: number;
  outcome?: string;
  effect?: number;
  finished: boolean;
}

/** Compute the figures. */
export function analyse(input: AnalysisInput): Figures {
  const processes = new Map(input.records.map((r) => [r.pid, r]));
  const byRun = new Map<string, Attempt[]>();
  const attempts = new Map<string, Attempt>();
  for (const e of input.entries) {
    const key = `${e.taskId} ${e.attempt} ${e.pid}`;
    let a = attempts.get(key);
    if (a === undefined) {
      a = { taskId: e.taskId, attempt: e.attempt, pid: e.pid, start: Number.NaN, finished: false };
      attempts.set(key, a);
      const list = byRun.get(e.taskId) ?? [];
      list.push(a);
      byRun.set(e.taskId, list);
    }
    if (e.kind === 'S') a.start = e.at;
    else if (e.kind === 'E') a.effect = e.at;
    else if (e.kind === 'X') {
      a.end = e.at;
      if (e.outcome !== undefined) a.outcome = e.outcome;
    } else a.finished = true;
  }
  const endOf = (a: Attempt): number => a.end ?? processes.get(a.pid)?.exitedAt ?? Number.POSITIVE_INFINITY;
  /** The attempt's process was SIGKILLed before `before` (the next effect) and before its success was recorded. */
  const killedBeforeFinish = (a: Attempt, before: number): boolean => {
    const p = processes.get(a.pid);
    return p?.killed === true && !a.finished && (p.exitedAt ?? Number.POSITIVE_INFINITY) <= before;
  };

  const examples: Record<string, string[]> = {};
  const note = (figure: string, id: string) => {
    const list = examples[figure] ?? [];
    examples[figure] = list;
    if (list.length < 5 && !list.includes(id)) list.push(id);
  };
  let lost = 0;
  let overlapping = 0;
  let afterSuccess = 0;
  let unexplained = 0;
  let explained = 0;
  let effects = 0;
  let retried = 0;
  let deadByKills = 0;
  for (const run of input.outcomes) {
    const list = (byRun.get(run.id) ?? []).sort((a, b) => a.start - b.start);
    if (list.length > 1) retried++;
    const withEffect = list.filter((a) => a.effect !== undefined).sort((a, b) => (a.effect ?? 0) - (b.effect ?? 0));
    effects += withEffect.length;
    const killed = (a: Attempt) => a.end === undefined && processes.get(a.pid)?.killed === true;
    const killedEveryTime =
      run.state === 'dead' &&
      list.length >= input.maxAttempts &&
      list.some(killed) &&
      list.every((a) => killed(a) || a.outcome === 'fail');
    const tried = list
      .map(
        (a) =>
          `${a.attempt}@${a.pid}+${Math.round(endOf(a) - a.start)}ms${a.outcome === undefined ? '†' : ` ${a.outcome}`}`,
      )
      .join(' ');
    if (killedEveryTime && run.expected !== 'dead') {
      deadByKills++;
      note('deadByKills', `${run.id} [${tried}]`);
    } else if (run.state !== run.expected || (run.expected === 'succeeded' && withEffect.length === 0)) {
      lost++;
      const error = run.error === undefined ? '' : `; ${run.error}`;
      note(
        'lost',
        `${run.id} (${run.state ?? 'no state'} after attempts [${tried}], expected ${run.expected}${error})`,
      );
    }
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, b] = [list[i], list[j]];
        if (a !== undefined && b !== undefined && b.start < endOf(a)) {
          overlapping++;
          note('overlappingAttempts', run.id);
        }
      }
    }
    if (run.state === 'succeeded') {
      const success =
        withEffect.filter((a) => a.attempt === run.attempt && a.finished).at(-1) ??
        withEffect.filter((a) => a.attempt === run.attempt).at(-1);
      if (success !== undefined) {
        const ended = endOf(success);
        for (const a of list) {
          if (a.start > ended) {
            afterSuccess++;
            const finished = success.finished ? ', recorded' : ', not recorded';
            note(
              'attemptsAfterSuccess',
              `${run.id} (success ${success.attempt}@${success.pid}${finished}; ${a.attempt}@${a.pid} started ${Math.round(a.start - ended)} ms after its end${a.effect === undefined ? '' : ', with an effect'})`,
            );
          }
        }
      }
    }
    for (let i = 1; i < withEffect.length; i++) {
      const earlier = withEffect[i - 1];
      const later = withEffect[i];
      if (earlier !== undefined && later !== undefined && killedBeforeFinish(earlier, later.effect ?? 0)) explained++;
      else {
        unexplained++;
        note('unexplainedDoubleEffects', run.id);
      }
    }
  }
  return {
    backend: input.backend,
    runs: input.outcomes.length,
    kills: input.records.filter((r) => r.killed).length,
    lost,
    overlappingAttempts: overlapping,
    attemptsAfterSuccess: afterSuccess,
    unexplainedDoubleEffects: unexplained,
    processes: input.processes,
    blocking: input.blocking,
    attempts: attempts.size,
    effects,
    explainedDoubleEffects: explained,
    retriedRuns: retried,
    deadByKills,
    crashes: input.records.filter((r) => r.crashed).length,
    duplicateRuns: input.duplicateRuns,
    seconds: input.seconds,
    examples,
  };
}

/** The figures that must be 0, by name. */
export const MUST_BE_ZERO = [
  'lost',
  'overlappingAttempts',
  'attemptsAfterSuccess',
  'unexplainedDoubleEffects',
  'crashes',
  'duplicateRuns',
] as const satisfies readonly (keyof Figures)[];

/** Whether every figure that must be 0 is. */
export function passed(figures: Figures): boolean {
  return MUST_BE_ZERO.every((name) => figures[name] === 0);
}
