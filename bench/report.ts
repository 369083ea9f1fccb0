/**
 * The benchmark's shared shapes (a system under test, its results) and its output: the table
 * and the one-line JSON.
 *
 * @module
 */

/** One bulk phase: enqueue `tasks` with the bulk API, then process them with one worker. */
export interface BulkTiming {
  /** Time the bulk enqueue call took, ms. */
  readonly enqueueMs: number;
  /** From starting the worker to the last handler completion, ms. */
  readonly processMs: number;
  /** From the last handler completion until the worker had stopped (records written, messages acknowledged), ms. */
  readonly drainMs: number;
}

/** A queue system driven by the benchmark. Each phase starts from an empty queue and store. */
export interface SystemUnderTest {
  /** Column name: `embedded` or `bullmq`. */
  readonly name: SystemName;
  /** Enqueue `tasks` no-op tasks in one bulk call, then run one worker at `concurrency` until all ran. */
  bulk(tasks: number, concurrency: number): Promise<BulkTiming>;
  /**
   * With one worker running at `concurrency`, enqueue `count` tasks one by one (awaiting each,
   * 1 ms apart); resolves each task's start time minus its enqueue call time, ms.
   */
  latency(count: number, concurrency: number): Promise<number[]>;
  /** Release what the system holds (connections, temporary files). */
  close(): Promise<void>;
}

/** The systems compared. */
export type SystemName = 'embedded' | 'bullmq';

/** What is reported for one system. */
export interface SystemResult {
  /** Bulk enqueue rate, tasks/s (over every bulk enqueue of the run). */
  readonly enqueuePerSecond: number;
  /** Processing rate at concurrency 50, tasks/s (median of the rounds). */
  readonly processPerSecond: number;
  /** Processing rate at concurrency 10, tasks/s (median of the rounds). */
  readonly processPerSecondAt10: number;
  /** Enqueue→start latency, median, ms. */
  readonly p50Ms: number;
  /** Enqueue→start latency, 99th percentile, ms. */
  readonly p99Ms: number;
}

/** Enqueue→start latency percentiles of one phase, ms. */
export interface LatencyResult {
  /** Median, ms. */
  readonly p50Ms: number;
  /** 99th percentile, ms. */
  readonly p99Ms: number;
}

/** The embedded runtime with the producer and the worker in two processes. */
export interface CrossProcessResults {
  /** With the library's defaults (cross-process wake-ups on). */
  readonly wake: LatencyResult;
  /** With `crossProcessWake: false` in both processes (polling only), when measured. */
  readonly polling?: LatencyResult;
  /** Tasks measured per mode. */
  readonly tasks: number;
}

/** The p50 and p99 of `latencies`, rounded to 0.01 ms. */
export function latencyResult(latencies: readonly number[]): LatencyResult {
  return { p50Ms: roundMs(percentile(latencies, 50)), p99Ms: roundMs(percentile(latencies, 99)) };
}

/** `count` per `ms`, as a rate per second (rounded). */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? Math.round((count / ms) * 1000) : 0;
}

/** The `p`-th percentile (0–100) of `values`, nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/** The median of `values` (the mean of the middle two for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Milliseconds rounded to 0.01. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Now, as epoch ms with sub-millisecond precision (comparable across the process). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Now, ms (µs precision), on the machine's monotonic clock (`process.hrtime`: `CLOCK_MONOTONIC`,
 * `mach_absolute_time`, `QueryPerformanceCounter`), which every process of the machine shares: a
 * time taken in one process can be subtracted from a time taken in another.
 */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** A counter that resolves `done` when it reaches `target`, or rejects after `timeoutMs`. */
export interface Countdown {
  /** Count one completion. */
  tick(): void;
  readonly count: number;
  /** Resolves with the time of the `target`-th tick (`performance.now()`). */
  readonly done: Promise<number>;
}

/** Create a {@link Countdown} towards `target` completions; `what` names it in the timeout error. */
export function countdown(target: number, timeoutMs: number, what: string): Countdown {
  let count = 0;
  let finish: (at: number) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<number>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(
    () => fail(new Error(`${what}: only ${count} of ${target} tasks ran within ${timeoutMs} ms`)),
    timeoutMs,
  );
  timer.unref();
  void done.finally(() => clearTimeout(timer)).catch(() => {});
  return {
    tick() {
      count += 1;
      if (count === target) finish(performance.now());
    },
    get count() {
      return count;
    },
    done,
  };
}

const ROWS: readonly { readonly label: string; readonly key: keyof SystemResult; readonly unit: string }[] = [
  { label: 'enqueue (bulk)', key: 'enqueuePerSecond', unit: 'tasks/s' },
  { label: 'process @ concurrency 10', key: 'processPerSecondAt10', unit: 'tasks/s' },
  { label: 'process @ concurrency 50', key: 'processPerSecond', unit: 'tasks/s' },
  { label: 'enqueue→start p50', key: 'p50Ms', unit: 'ms' },
  { label: 'enqueue→start p99', key: 'p99Ms', unit: 'ms' },
];

/** The comparison as a Markdown table (rows: metrics; columns: embedded, bullmq, ratio embedded/bullmq). */
export function renderTable(results: Readonly<Record<SystemName, SystemResult>>): string {
  const header = ['metric', 'unit', 'embedded', 'bullmq', 'embedded / bullmq'];
  const body = ROWS.map(({ label, key, unit }) => {
    const embedded = results.embedded[key];
    const bullmq = results.bullmq[key];
    return [label, unit, format(embedded), format(bullmq), bullmq > 0 ? `${(embedded / bullmq).toFixed(2)}×` : '—'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

function format(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
}

/** The cross-process latencies as a Markdown table (rows: the modes measured). */
export function renderCrossProcess(results: CrossProcessResults): string {
  const rows: [string, LatencyResult][] = [['wake-up (default)', results.wake]];
  if (results.polling) rows.push(['polling only (crossProcessWake: false)', results.polling]);
  const header = ['embedded, producer and worker in two processes', 'enqueue→start p50 ms', 'p99 ms'];
  const body = rows.map(([label, r]) => [label, format(r.p50Ms), format(r.p99Ms)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/**
 * The machine-readable result: one line of JSON with the keys of {@link SystemResult} per system,
 * then `crossProcess` (`p50Ms`, `p99Ms`: the embedded runtime, producer and worker in two
 * processes), and `crossProcessPolling` (the same with the wake-ups off) when measured.
 */
export function jsonLine(
  results: Readonly<Record<SystemName, SystemResult>>,
  crossProcess: CrossProcessResults,
): string {
  const pick = (r: SystemResult) => ({
    enqueuePerSecond: r.enqueuePerSecond,
    processPerSecond: r.processPerSecond,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    processPerSecondAt10: r.processPerSecondAt10,
  });
  const latency = (r: LatencyResult) => ({ p50Ms: r.p50Ms, p99Ms: r.p99Ms });
  return JSON.stringify({
    embedded: pick(results.embedded),
    bullmq: pick(results.bullmq),
    crossProcess: latency(crossProcess.wake),
    ...(crossProcess.polling ? { crossProcessPolling: latency(crossProcess.polling) } : {}),
  });
}
