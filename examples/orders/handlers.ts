/**
 * The example app's handlers: each contract of ./contracts.ts implemented over the providers
 * (the outside world), and the app's schedule. Only workers import this module.
 *
 * @module
 */

import { defineSchedule, implementTask, type Schedule } from 'spool-tasks';
import { chargeOrder, monthlyReport, reconcileOrders, sendReceipt } from './contracts.js';
import type { FakePayments, FlakyMail } from './providers.js';

/** The outside world, injectable for tests and the demo's report. */
export interface Providers {
  readonly payments: FakePayments;
  readonly mail: FlakyMail;
}

/** Build the tasks over a set of providers. */
export function defineOrderTasks(providers: Providers) {
  return {
    chargeOrder: implementTask(chargeOrder, async ({ orderId, amountCents }, ctx) => {
      // ctx.taskId doubles as the provider's idempotency key: even a worker that dies between the
      // charge and the acknowledgement cannot charge twice.
      const chargeId = await providers.payments.charge({ orderId, amountCents, idempotencyKey: ctx.taskId });
      ctx.logger.info('charged', { orderId, amountCents, chargeId });
      return { chargeId };
    }),

    sendReceipt: implementTask(sendReceipt, async ({ email }) => {
      await providers.mail.send(email);
      return { sentTo: email };
    }),

    monthlyReport: implementTask(monthlyReport, async ({ month }, ctx) => {
      for (let step = 1; step <= 3; step++) {
        await new Promise((r) => setTimeout(r, 100));
        await ctx.progress({ step, of: 3 });
      }
      return { month, rows: 1234 };
    }),

    reconcileOrders: implementTask(reconcileOrders, async ({ window }, ctx) => {
      ctx.logger.info('reconciling charges with the payment provider', { window });
      return { window, reconciledAt: new Date() };
    }),
  };
}

/** The example's recurring schedules: reconcile orders every night at 03:15 Berlin time. */
export function defineOrderSchedules(tasks: ReturnType<typeof defineOrderTasks>): Schedule[] {
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
