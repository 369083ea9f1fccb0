/**
 * The scheduling demo's app: a heartbeat task fired every second by a schedule, and a reminder
 * task that is enqueued with a delay. Each run appends one line to a log file (its effect), so
 * the demo can count runs per fire.
 */

import { appendFileSync } from 'node:fs';
import { type Backend, createSpool, defineSchedule, defineTask, type Logger } from 'spool-tasks';
import { z } from 'zod';

/** One line of the effects log. */
export interface Effect {
  readonly taskId: string;
  readonly task: string;
  readonly pid: number;
  readonly startedAt: number;
  /** The reminder's intended start (epoch ms). */
  readonly dueAt?: number;
}

/** Build the demo app; runs append their effect to `effectsFile`. */
export function createSchedulesApp(options: { backend: Backend; effectsFile: string; logger?: Logger }) {
  const record = (effect: Effect) => appendFileSync(options.effectsFile, `${JSON.stringify(effect)}\n`);
  const heartbeat = defineTask({
    name: 'demo.heartbeat',
    schema: z.object({ service: z.string() }),
    handler(_args, ctx) {
      record({ taskId: ctx.taskId, task: ctx.taskName, pid: process.pid, startedAt: Date.now() });
    },
  });
  const remind = defineTask({
    name: 'demo.remind',
    schema: z.object({ message: z.string(), dueAt: z.number() }),
    handler({ dueAt }, ctx) {
      record({ taskId: ctx.taskId, task: ctx.taskName, pid: process.pid, startedAt: Date.now(), dueAt });
    },
  });
  const everySecond = defineSchedule({
    name: 'heartbeat',
    task: heartbeat,
    args: { service: 'billing' },
    every: '1 second',
    description: 'The demo heartbeat',
  });
  const spool = createSpool({
    backend: options.backend,
    tasks: [heartbeat, remind],
    schedules: [everySecond],
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { spool, tasks: { heartbeat, remind }, schedules: { everySecond } };
}
