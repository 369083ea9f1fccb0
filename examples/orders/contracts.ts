/**
 * The example app's task contracts: names, argument schemas, result types and run rules, without
 * handlers. Producers (functions/producer.ts, a web server) import this module and nothing else of
 * the app, so their bundles hold neither the handlers (./handlers.ts) nor what those import.
 *
 * - `orders.charge` — charge an order exactly once, however often it is enqueued or delivered.
 * - `receipts.send` — send a receipt through a flaky provider: retried with backoff, and
 *   dead-lettered (with the reason) when it keeps failing.
 * - `reports.monthly` — an expensive report: `unique`, so asking again while one is queued or
 *   running returns the run already under way.
 * - `orders.reconcile` — run nightly by a schedule (./handlers.ts).
 *
 * @module
 */

import { defineTaskContract } from 'spool-tasks';
import * as z from 'zod/mini';

/** Charge an order once: the same order is the same run, whatever else is in the arguments. */
export const chargeOrder = defineTaskContract({
  name: 'orders.charge',
  schema: z.object({
    orderId: z.string().check(z.minLength(1, 'must not be empty')),
    amountCents: z.int('must be a whole number of cents').check(z.positive('must be more than 0')),
  }),
  idempotencyKey: (args) => args.orderId,
  retry: { maxAttempts: 5, minDelayMs: 500, maxDelayMs: 30_000 },
}).returns<{ chargeId: string }>();

/** Send an order's receipt. */
export const sendReceipt = defineTaskContract({
  name: 'receipts.send',
  schema: z.object({ orderId: z.string('must be a string'), email: z.email('must be an e-mail address') }),
  retry: { maxAttempts: 3, minDelayMs: 200, maxDelayMs: 2_000 },
  timeout: { softMs: 5_000, hardMs: 10_000 },
}).returns<{ sentTo: string }>();

/** Build a month's report; asking again while one is queued or running returns that run. */
export const monthlyReport = defineTaskContract({
  name: 'reports.monthly',
  schema: z.object({
    month: z.string().check(z.regex(/^\d{4}-\d{2}$/, 'must be a month as YYYY-MM')),
    requestedBy: z.string('must be a string'),
  }),
  unique: { key: (args) => args.month, ttlSeconds: 3600 },
}).returns<{ month: string; rows: number }>();

/** Reconcile charges with the payment provider over a window. */
export const reconcileOrders = defineTaskContract({
  name: 'orders.reconcile',
  schema: z.object({ window: z.enum(['daily', 'weekly'], "must be 'daily' or 'weekly'") }),
}).returns<{ window: 'daily' | 'weekly'; reconciledAt: Date }>();
