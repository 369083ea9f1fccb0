/**
 * Drain on a stop signal: the workers started with `signals` on (the default of `spool.worker()`)
 * stop gracefully when the process gets SIGINT or SIGTERM (on Windows, SIGINT and SIGBREAK: Ctrl-C
 * and Ctrl-Break; Windows has no SIGTERM, and `taskkill /F` cannot be caught).
 *
 * One listener per signal serves every such worker of the process. On the first signal each worker
 * stops (no more receives; attempts finish within the grace period, then are released). Once all
 * have stopped, the listeners are removed and, when nothing else in the process listens for that
 * signal, the signal is raised again, so the process ends as it would have without spool: a
 * SIGTERM still terminates it, after the drain. A second signal while draining removes the
 * listeners and raises it at once (the runs still in flight are retried once their leases end).
 *
 * @module
 */

import type { Logger } from '../log/logger.js';

/** What a draining worker needs of a worker. */
export interface Drainable {
  /** Stop gracefully (resolves once stopped). */
  stop(): Promise<void>;
}

/** The signals that stop a worker on this platform. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] =
  process.platform === 'win32' ? ['SIGINT', 'SIGBREAK'] : ['SIGINT', 'SIGTERM'];

/** The workers to stop on the next signal, with the logger each reports to. */
const workers = new Map<Drainable, Logger>();
/** Set on the first signal until the drain ends. */
let draining: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (draining !== undefined) {
    for (const logger of new Set(workers.values())) {
      logger.warn(`second ${signal}: exiting now; runs still in flight are retried once their leases end`);
    }
    uninstall();
    process.kill(process.pid, signal);
    return;
  }
  draining = signal;
  const stopping = [...workers];
  for (const logger of new Set(workers.values())) {
    logger.info(`${signal} received: stopping gracefully (${signal} again to exit at once)`, {
      workers: stopping.length,
    });
  }
  void Promise.allSettled(stopping.map(([worker]) => worker.stop())).then(() => {
    for (const [worker] of stopping) workers.delete(worker);
    // Workers started during the drain keep the listeners (and are stopped by the next signal).
    draining = undefined;
    if (workers.size > 0) return;
    uninstall();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function install(): void {
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  workers.clear();
  draining = undefined;
}

/**
 * Stop `worker` gracefully on the process's next stop signal (see the module's header). Returns
 * the function that takes it off (call it when the worker stops by other means).
 */
export function drainOnSignals(worker: Drainable, logger: Logger): () => void {
  if (workers.size === 0 && draining === undefined) install();
  workers.set(worker, logger);
  return () => {
    if (!workers.delete(worker) || draining !== undefined || workers.size > 0) return;
    uninstall();
  };
}
