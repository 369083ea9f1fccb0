/**
 * The demo app as a CLI app module: `spool schedules sync --app examples/schedules/spool.ts`.
 * Runs append their effects to `.spool/schedules-demo/effects.jsonl`.
 */

import { mkdirSync } from 'node:fs';
import type { Backend } from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createSchedulesApp } from './app.js';

export default ({ backend }: { backend?: Backend } = {}) => {
  mkdirSync('.spool/schedules-demo', { recursive: true });
  return createSchedulesApp({
    backend: backend ?? openEmbeddedBackend(),
    effectsFile: '.spool/schedules-demo/effects.jsonl',
  }).spool;
};
