/**
 * One scheduler process of the demo: a worker on the shared SQLite file that also fires the
 * schedules, for the given number of milliseconds. Usage: scheduler-process.ts <db> <effects> <ms>
 */

import { createLogger } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createSchedulesApp } from './app.js';

const [db, effectsFile, ms] = process.argv.slice(2);
if (db === undefined || effectsFile === undefined || ms === undefined) {
  console.error('usage: scheduler-process.ts <db> <effects file> <run for ms>');
  process.exit(2);
}
const logger = createLogger({ format: 'pretty', level: 'warn' });
const { spool } = createSchedulesApp({ backend: openEmbeddedBackend({ path: db }), effectsFile, logger });
const worker = spool.worker({ concurrency: 5, waitTimeSeconds: 1 });
await worker.start();
process.send?.('ready');
await new Promise((resolve) => setTimeout(resolve, Number(ms)));
await worker.stop();
await spool.close();
