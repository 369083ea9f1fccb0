/**
 * An abortable sleep, shared by the worker, the processor and the schedule runner.
 *
 * @module
 */

/**
 * Resolve after `ms`, or at once when `signal` aborts (never rejects). With `unref`, the timer
 * does not keep the process alive (for waits that must not delay an exit, such as a grace period).
 */
export function sleep(ms: number, signal?: AbortSignal, options: { readonly unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (options.unref === true) timer.unref?.();
    signal?.addEventListener('abort', done, { once: true });
  });
}
