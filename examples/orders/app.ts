/**
 * The example app: three tasks that show what spool is for.
 *
 * - `orders.charge` — charge an order exactly once, however often it is enqueued or delivered.
 * - `receipts.send` — send a receipt through a flaky provider: retried with backoff, and
 *   dead-lettered (with the reason) when it keeps failing.
 * - `reports.monthly` — an expensive report: `unique`, so asking again while one is queued or
 *   running returns the run already under way.
 */

import { z } from 'zod';
import type { Backend } from '../../lib/backend/backend.js';
import type { Middleware } from '../../lib/client/middleware.js';
import { createSpool, type Spool } from '../../lib/client/spool.js';
import { openEmbeddedBackend } from '../../lib/embedded/index.js';
import type { Logger } from '../../lib/log/logger.js';
import { defineSchedule } from '../../lib/schedule/define.js';
import { defineTask } from '../../lib/task/define.js';
import { FakePayments, FlakyMail } from './providers.js';

/** The outside world, injectable for tests and the demo's report. */
export interface Providers {
  readonly payments: FakePayments;
  readonly mail: FlakyMail;
}

/** Build the tasks over a set of providers. */
export function defineOrderTasks(providers: Providers) {
  const chargeOrder = defineTask({
    name: 'orders.charge',
    schema: z.object({ orderId: z.string().min(1), amountCents: z.number().int().positive() }),
    // Same order → same run, whatever else is in the arguments.
    idempotencyKey: (args) => args.orderId,
    retry: { maxAttempts: 5, minDelayMs: 500, maxDelayMs: 30_000 },
    async handler({ orderId, amountCents }, ctx) {
      // ctx.taskId doubles as the provider's idempotency key: even a worker that dies between the
      // charge and the acknowledgement cannot charge twice.
      const chargeId = await providers.payments.charge({ orderId, amountCents, idempotencyKey: ctx.taskId });
      ctx.logger.info('charged', { orderId, amountCents, chargeId });
      return { chargeId };
    },
  });

  const sendReceipt = defineTask({
    name: 'receipts.send',
    schema: z.object({ orderId: z.string(), email: z.email() }),
    retry: { maxAttempts: 3, minDelayMs: 200, maxDelayMs: 2_000 },
    timeout: { softMs: 5_000, hardMs: 10_000 },
    async handler({ email }) {
      await providers.mail.send(email);
      return { sentTo: email };
    },
  });

  const monthlyReport = defineTask({
    name: 'reports.monthly',
    schema: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/), requestedBy: z.string() }),
    unique: { key: (args) => args.month, ttlSeconds: 3600 },
    async handler({ month }, ctx) {
      for (let step = 1; step <= 3; step++) {
        await new Promise((r) => setTimeout(r, 100));
        await ctx.progress({ step, of: 3 });
      }
      return { month, rows: 1234 };
    },
  });

  const reconcileOrders = defineTask({
    name: 'orders.reconcile',
    schema: z.object({ window: z.enum(['daily', 'weekly']) }),
    async handler({ window }, ctx) {
      ctx.logger.info('reconciling charges with the payment provider', { window });
      return { window, reconciledAt: new Date().toISOString() };
    },
  });

  return { chargeOrder, sendReceipt, monthlyReport, reconcileOrders };
}

/** The example's recurring schedules: reconcile orders every night at 03:15 Berlin time. */
export function defineOrderSchedules(tasks: ReturnType<typeof defineOrderTasks>) {
  return [
    defineSchedule({
      name: 'reconcile-orders',
      task: tasks.reconcileOrders,
      args: { window: 'daily' },
      cron: '15 3 * * *',
      timezone: 'Europe/Berlin',
      description: 'Reconcile the day’s charges with the payment provider',
    }),
  ];
}

/** Options of {@link createOrdersApp}. */
export interface OrdersAppOptions {
  /** @default the embedded backend at SPOOL_DB, else .spool/spool.db */
  readonly backend?: Backend;
  readonly providers?: Providers;
  readonly logger?: Logger;
  /** @default [] */
  readonly middleware?: readonly Middleware[];
}

/** The app: its tasks on a backend. */
export function createOrdersApp(
  options: OrdersAppOptions = {},
): Spool & { providers: Providers; orderTasks: ReturnType<typeof defineOrderTasks> } {
  const providers = options.providers ?? { payments: new FakePayments(), mail: new FlakyMail() };
  const tasks = defineOrderTasks(providers);
  const backend =
    options.backend ?? openEmbeddedBackend({ ...(process.env.SPOOL_DB ? { path: process.env.SPOOL_DB } : {}) });
  const spool = createSpool({
    backend,
    tasks: Object.values(tasks),
    schedules: defineOrderSchedules(tasks),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
  });
  return Object.assign(spool, { providers, orderTasks: tasks });
}

/**
 * For the CLI: `spool dev --app examples/orders/app.ts` (embedded), or
 * `spool worker --app examples/orders/app.ts --backend aws` (the CLI passes the backend).
 */
export default (options: { backend?: Backend } = {}) => createOrdersApp(options);
