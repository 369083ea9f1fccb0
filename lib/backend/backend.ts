/**
 * A backend: a queue transport and a task store that work together (embedded SQLite, or AWS).
 *
 * @module
 */

import type { SchedulerPort } from './scheduler.js';
import type { TaskStore } from './store.js';
import type { QueueTransport } from './transport.js';

/** A backend, as `createSpool({ backend })` takes it. */
export interface Backend {
  readonly transport: QueueTransport;
  readonly store: TaskStore;
  /** Recurring schedules and one-time timers; absent when the backend has none configured. */
  readonly scheduler?: SchedulerPort;
  /** Release connections (close the SQLite file, destroy SDK clients). */
  close(): void | Promise<void>;
}
