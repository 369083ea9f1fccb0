/**
 * One worker process of the chaos suite, on the package's public entry points only (`spool-tasks`,
 * `spool-tasks/embedded`, `spool-tasks/aws`): runs the chaos task until SIGTERM (then stops
 * gracefully) or SIGKILL, writing each attempt's start, effect and end to its ledger file.
 *
 * Usage: `node --conditions=spool-source --import tsx bench/chaos/worker.ts <embedded|aws> <ledger dir> <lease s> <concurrency> [<spool.db>]`;
 * the AWS backend reads its resources from the environment (`openAwsBackend()`).
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Backend,
  createSpool,
  implementTask,
  type LogFields,
  type Logger,
  NonRetriableError,
  type TaskContext,
} from 'spool-tasks';
import { monotonicNow } from '../report.js';
import { LedgerWriter } from './ledger.js';
import { chaosContract, type RunArgs } from './plan.js';

/** The worker's log line written after the store recorded an attempt's success. */
const SUCCEEDED_LINE = 'attempt succeeded';

/**
 * A logger that writes nothing but an `F` ledger line when a success has been recorded, at
 * whichever level the worker logs it (info at f3fb485, debug since).
 */
class FinishLogger implements Logger {
  readonly #ledger: LedgerWriter;
  readonly #fields: LogFields;

  constructor(ledger: LedgerWriter, fields: LogFields = {}) {
    this.#ledger = ledger;
    this.#fields = fields;
  }

  debug(message: string): void {
    this.info(message);
  }
  info(message: string): void {
    if (message !== SUCCEEDED_LINE) return;
    const { taskId, attempt } = this.#fields;
    if (typeof taskId === 'string' && typeof attempt === 'number')
      this.#ledger.write('F', taskId, attempt, monotonicNow());
  }
  warn(): void {}
  error(): void {}
  child(fields: LogFields): Logger {
    return new FinishLogger(this.#ledger, { ...this.#fields, ...fields });
  }
}

/** The handler: sleep (awaiting), block (busy loop), fail as planned, then the effect. */
function handler(ledger: LedgerWriter) {
  return async (args: RunArgs, ctx: TaskContext): Promise<{ pid: number }> => {
    const { taskId, attempt } = ctx;
    ledger.write('S', taskId, attempt, monotonicNow());
    // `fail`: a planned failure; `abort`: anything else thrown (the signal: lease lost, shutdown).
    let outcome = 'abort';
    try {
      if (args.sleepMs > 0) await sleep(args.sleepMs, undefined, { signal: ctx.signal });
      if (args.blockMs > 0) {
        const until = monotonicNow() + args.blockMs;
        while (monotonicNow() < until) {
          // The event loop is blocked: no heartbeat runs until this ends.
        }
      }
      if (args.fate === 'rejected' || args.fate === 'doomed' || (args.fate === 'flaky' && attempt <= args.failUntil)) {
        outcome = 'fail';
        if (args.fate === 'rejected') throw new NonRetriableError('chaos: rejected at every attempt');
        throw new Error(`chaos: fails at attempt ${attempt}`);
      }
      if (ctx.signal.aborted) throw ctx.signal.reason;
      ledger.write('E', taskId, attempt, monotonicNow());
      outcome = 'ok';
      return { pid: process.pid };
    } finally {
      ledger.write('X', taskId, attempt, monotonicNow(), outcome);
    }
  };
}

async function openBackend(kind: string, dbPath: string | undefined): Promise<Backend> {
  if (kind === 'embedded' && dbPath !== undefined) {
    const { openEmbeddedBackend } = await import('spool-tasks/embedded');
    return openEmbeddedBackend({ path: dbPath });
  }
  if (kind === 'aws') {
    const { openAwsBackend } = await import('spool-tasks/aws');
    return openAwsBackend();
  }
  throw new Error(`usage: worker.ts <embedded|aws> <ledger dir> <lease s> <concurrency> [<spool.db>]; got ${kind}`);
}

async function main(): Promise<void> {
  const [kind = '', ledgerDir = '', lease = '', concurrency = '', dbPath] = process.argv.slice(2);
  const leaseSeconds = Number(lease);
  const ledger = new LedgerWriter(ledgerDir);
  const spool = createSpool({
    backend: await openBackend(kind, dbPath),
    tasks: [implementTask(chaosContract(leaseSeconds), handler(ledger))],
    logger: new FinishLogger(ledger),
  });
  const worker = spool.worker({
    concurrency: Number(concurrency),
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: leaseSeconds,
    shutdownGraceMs: 3000,
  });
  await worker.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void worker.stop().then(async () => {
      await spool.close();
      ledger.close();
      process.exit(0);
    });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos worker ${process.pid} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
