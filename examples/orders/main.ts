/**
 * `npm start`: the example app end to end on the embedded runtime (no AWS, no Docker, no broker).
 * Two workers share one SQLite file; the report at the end says what happened, and the CLI
 * commands that look at what it left in that file.
 */

import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, listDeadLetters, TaskFailedError } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createOrdersApp } from './app.js';

/** The demo's own database, relative to the repository root (where `npm start` runs). */
const DB = '.spool/example.db';
/** What `npx spool` runs in this repository: the compiled CLI, which `npm run build` makes. */
const BUILT_CLI = fileURLToPath(new URL('../../dist/esm/lib/cli/bin.js', import.meta.url));

async function main(): Promise<number> {
  // The demo starts from a clean slate each time (its own file; your .spool/spool.db is untouched).
  for (const suffix of ['', '-wal', '-shm']) rmSync(DB + suffix, { force: true });
  const verbose = process.argv.includes('--verbose');
  process.stdout.write(
    [
      'spool example — orders on the embedded runtime',
      `  It charges 3 orders exactly once (each enqueued twice, one delivered twice), sends 3 receipts through a`,
      '  mail provider that fails every first try and bounces one address for good, and asks for one report 3 times.',
      '  The failures are on purpose: expect warn lines (retries) and one error line (a receipt dead-lettered)',
      '  before the report.',
      '',
      '',
    ].join('\n'),
  );
  const logger = createLogger({ format: 'pretty', level: verbose ? 'debug' : 'warn' });
  const app = createOrdersApp({ backend: openEmbeddedBackend({ path: DB }), logger });
  const tasks = {
    charge: app.orderTasks.chargeOrder,
    receipt: app.orderTasks.sendReceipt,
    report: app.orderTasks.monthlyReport,
  };
  const workers = [
    app.worker({ concurrency: 5, workerId: 'worker-a' }),
    app.worker({ concurrency: 5, workerId: 'worker-b' }),
  ];
  await Promise.all(workers.map((w) => w.start()));
  const started = Date.now();

  // 1. Charge three orders. Every order is enqueued twice (a double-clicked button), and one
  //    message is delivered twice (as SQS may): each order is still charged once.
  const orders = [
    { orderId: 'order-1001', amountCents: 2599 },
    { orderId: 'order-1002', amountCents: 1200 },
    { orderId: 'order-1003', amountCents: 999 },
  ];
  const charges = await app.enqueueMany(tasks.charge, orders);
  const again = await app.enqueueMany(tasks.charge, orders);
  const duplicateIds = charges.every((h, i) => h.id === again[i]?.id);
  const first = charges[0];
  if (first === undefined) throw new Error('no charge handle');
  const body = JSON.stringify({ spool: 1, id: first.id, task: 'orders.charge', args: orders[0] });
  await app.backend.transport.tasks.send([{ body, deduplicationId: `${first.id}-redelivered`, groupId: 'redelivery' }]);
  const chargeResults = await Promise.all(charges.map((h) => h.result({ timeoutMs: 20_000 })));

  // 2. Receipts through a provider that fails every first try, and bounces one address for good.
  const receipts = await app.enqueueMany(tasks.receipt, [
    { orderId: 'order-1001', email: 'ana@example.com' },
    { orderId: 'order-1002', email: 'ben@example.com' },
    { orderId: 'order-1003', email: 'bounce@example.com' },
  ]);
  const receiptOutcomes = await Promise.all(
    receipts.map((h) =>
      h.result({ timeoutMs: 30_000 }).then(
        () => 'sent',
        (e: unknown) => (e instanceof TaskFailedError ? e.state : 'error'),
      ),
    ),
  );

  // 3. The monthly report, asked for three times while the first is under way: one run.
  const reports = [];
  for (const requestedBy of ['ana', 'ben', 'cy'])
    reports.push(await app.enqueue(tasks.report, { month: '2026-10', requestedBy }));
  const report = await reports[0]?.result({ timeoutMs: 20_000 });

  await Promise.all(workers.map((w) => w.stop()));
  const dead = await listDeadLetters(app.backend, { limit: 10 });
  const { payments, mail } = app.providers;
  const ok = (b: boolean) => (b ? '✔' : '✘');
  const checks = [
    payments.charges.size === 3,
    duplicateIds,
    chargeResults.length === 3,
    receiptOutcomes.filter((o) => o === 'sent').length === 2,
    receiptOutcomes[2] === 'dead' && dead.length === 1,
    new Set(reports.map((r) => r.id)).size === 1 && reports.slice(1).every((r) => r.existing),
  ];
  const deadReceipt = dead[0]?.taskId ?? receipts[2]?.id;
  const db = `--db ${DB}`;
  const next = [
    ...(existsSync(BUILT_CLI)
      ? []
      : ['  first, once (npx spool runs the compiled CLI in dist/):', '    npm run build']),
    '  the queue, the dead letters and the recent failures:',
    `    npx spool status ${db}`,
    '  a charge (succeeded on its first attempt):',
    `    npx spool inspect ${first.id} ${db}`,
    ...(deadReceipt === undefined
      ? []
      : ['  the receipt that bounced (dead, with its error):', `    npx spool inspect ${deadReceipt} ${db}`]),
    '  the dead letter, with its reason:',
    `    npx spool dlq list ${db}`,
    '  a worker for the app on the same file, with a live log (Ctrl-C stops it):',
    `    npx spool dev --app examples/orders/app.ts ${db}`,
  ];
  const lines = [
    '',
    'spool example — the report',
    `  database: ${DB} (SQLite, WAL) · 2 workers × concurrency 5 · ${((Date.now() - started) / 1000).toFixed(1)} s`,
    '',
    `${ok(checks[0] === true && checks[1] === true)} Charge exactly once`,
    `    6 enqueues + 1 duplicate delivery for 3 orders → ${payments.charges.size} charges, ${payments.calls} provider call(s)`,
    ...[...payments.charges.values()].map((c) => `    ${c.orderId}: $${(c.amountCents / 100).toFixed(2)}`),
    `${ok(checks[3] === true && checks[4] === true)} Receipts through a flaky provider`,
    ...['ana@example.com', 'ben@example.com', 'bounce@example.com'].map(
      (to, i) => `    ${to.padEnd(20)} ${String(mail.tries.get(to) ?? 0)} tries → ${receiptOutcomes[i]}`,
    ),
    ...dead.map((d) => `    dead letter: ${d.task} ${d.taskId}: ${d.reason}`),
    `${ok(checks[5] === true)} Unique report`,
    `    asked 3 times while running → 1 run (${reports[0]?.id.slice(0, 12)}…), result ${JSON.stringify(report)}`,
    '',
    checks.every(Boolean) ? 'All good.' : 'Something is off: see above.',
    `Look at what it left in ${DB} with the CLI:`,
    ...next,
    '',
  ];
  process.stdout.write(lines.join('\n'));
  await app.close();
  return checks.every(Boolean) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `example failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
