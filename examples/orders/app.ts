/**
 * The example app: the contracts of ./contracts.ts, implemented by ./handlers.ts, on a backend.
 * Workers build it with {@link createOrdersApp}; producers need only ./contracts.ts.
 *
 * @module
 */

import { type Backend, createSpool, type Logger, type Middleware, type Spool } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { defineOrderSchedules, defineOrderTasks, type Providers } from './handlers.js';
import { FakePayments, FlakyMail } from './providers.js';

export { defineOrderSchedules, defineOrderTasks, type Providers };

/** Options of {@link createOrdersApp}. */
export interface OrdersAppOptions {
  /** Where runs are queued and recorded: `openAwsBackend()`, `openEmbeddedBackend(…)`. */
  readonly backend: Backend;
  /** @default a FakePayments and a FlakyMail */
  readonly providers?: Providers;
  readonly logger?: Logger;
  /** @default [] */
  readonly middleware?: readonly Middleware[];
}

/** The app: its tasks and schedule on a backend. */
export function createOrdersApp(
  options: OrdersAppOptions,
): Spool & { providers: Providers; orderTasks: ReturnType<typeof defineOrderTasks> } {
  const providers = options.providers ?? { payments: new FakePayments(), mail: new FlakyMail() };
  const tasks = defineOrderTasks(providers);
  const spool = createSpool({
    backend: options.backend,
    tasks: Object.values(tasks),
    schedules: defineOrderSchedules(tasks),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
  });
  return Object.assign(spool, { providers, orderTasks: tasks });
}

/**
 * For the CLI: `spool dev --app examples/orders/app.ts` (the embedded backend at SPOOL_DB, else
 * .spool/spool.db), or `spool worker --app examples/orders/app.ts --backend aws` (the CLI passes
 * the backend).
 */
export default (options: { backend?: Backend } = {}) =>
  createOrdersApp({
    backend:
      options.backend ?? openEmbeddedBackend({ ...(process.env.SPOOL_DB ? { path: process.env.SPOOL_DB } : {}) }),
  });
