/**
 * A backend: a queue transport and a task store that work together (embedded SQLite, or AWS).
 *
 * @module
 */

import type { SchedulerPort } from './scheduler.js';
import type { TaskStore } from './store.js';
import type { QueueTransport } from './transport.js';

/**
 * How to open the same backend again in another thread or process: the module to import (a
 * `file:` URL), the function it exports, and the one argument to call it with. Every field is
 * structured-cloneable, so it can be posted to a worker thread; the function must return a
 * {@link Backend} on the same queues and store. The worker's lease keeper uses it to renew leases
 * from a thread that a blocked main thread cannot stall.
 *
 * @example
 * ```ts
 * const { module, exportName, options } = backend.portable;
 * const reopened: Backend = (await import(module))[exportName](options);
 * ```
 */
export interface PortableBackend {
  /** The module that exports the opener: a `file:` URL (the backend module's own `import.meta.url`), or a package entry point such as `spool-tasks/aws`. */
  readonly module: string;
  /** The name of the opener the module exports (`openEmbeddedBackend`, `openAwsBackend`). */
  readonly exportName: string;
  /** The opener's argument; structured-cloneable (no functions, no clients). */
  readonly options: unknown;
}

/** A backend, as `createSpool({ backend })` takes it. */
export interface Backend {
  readonly transport: QueueTransport;
  readonly store: TaskStore;
  /** Recurring schedules and one-time timers; absent when the backend has none configured. */
  readonly scheduler?: SchedulerPort;
  /**
   * How to open this backend again in another thread ({@link PortableBackend}); absent when it
   * cannot be (an in-memory database, a custom clock, clients the caller made). Without it, a
   * worker renews leases on its main thread.
   */
  readonly portable?: PortableBackend;
  /** Release connections (close the SQLite file, destroy SDK clients). */
  close(): void | Promise<void>;
}
