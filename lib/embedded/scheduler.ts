/**
 * The embedded scheduler port: recurring schedules and one-time timers in the SQLite file
 * (tables `schedules` and `timers`), fired by spool's in-process runner in every worker
 * (`firing: 'in-process'`). Each write is one statement in a group-committed transaction.
 *
 * @module
 */

import type { DeployedSchedule, OneTimeTimer, SchedulerPort, ScheduleState } from '../backend/scheduler.js';
import type { OutgoingMessage, Queue } from '../backend/transport.js';
import type { ScheduleSpec } from '../schedule/define.js';
import type { EmbeddedDatabase } from './database.js';

interface ScheduleRow {
  readonly spec: string;
  readonly state: ScheduleState;
  readonly last_fire_at: number | null;
  readonly updated_at: number;
}

/** Most timers one {@link EmbeddedScheduler.releaseDue} sends. */
const RELEASE_BATCH = 500;

/** The scheduler port on the embedded database. */
export class EmbeddedScheduler implements SchedulerPort {
  readonly firing = 'in-process' as const;
  readonly #db: EmbeddedDatabase;
  readonly #queue: Queue;
  readonly #now: () => number;

  /** `queue` is the task queue timers send to (its name scopes the rows). */
  constructor(db: EmbeddedDatabase, queue: Queue, now: () => number) {
    this.#db = db;
    this.#queue = queue;
    this.#now = now;
  }

  async list(): Promise<DeployedSchedule[]> {
    const rows = this.#db.sqlite
      .prepare('SELECT spec, state, last_fire_at, updated_at FROM schedules WHERE queue = ? ORDER BY name')
      .all(this.#queue.name) as ScheduleRow[];
    return rows.map((row) => ({
      spec: JSON.parse(row.spec) as ScheduleSpec,
      state: row.state,
      ...(row.last_fire_at === null ? {} : { lastFireAt: row.last_fire_at }),
      updatedAt: row.updated_at,
    }));
  }

  // put — absent: insert ENABLED. Present with another spec: update spec and updated_at (state and
  // last fire kept). Outcomes: created | updated | unchanged.
  async put(spec: ScheduleSpec): Promise<'created' | 'updated' | 'unchanged'> {
    const json = JSON.stringify(spec);
    const now = this.#now();
    const queue = this.#queue.name;
    return this.#db.write(() => {
      const sqlite = this.#db.sqlite;
      const found = sqlite.prepare('SELECT spec FROM schedules WHERE queue = ? AND name = ?').get(queue, spec.name) as
        | { spec: string }
        | undefined;
      if (found === undefined) {
        sqlite
          .prepare("INSERT INTO schedules (queue, name, spec, state, updated_at) VALUES (?, ?, ?, 'ENABLED', ?)")
          .run(queue, spec.name, json, now);
        return 'created';
      }
      if (found.spec === json) return 'unchanged';
      sqlite
        .prepare('UPDATE schedules SET spec = ?, updated_at = ? WHERE queue = ? AND name = ?')
        .run(json, now, queue, spec.name);
      return 'updated';
    });
  }

  async remove(name: string): Promise<boolean> {
    return this.#db.write(
      () =>
        this.#db.sqlite.prepare('DELETE FROM schedules WHERE queue = ? AND name = ?').run(this.#queue.name, name)
          .changes > 0,
    );
  }

  async setState(name: string, state: ScheduleState): Promise<boolean> {
    const now = this.#now();
    return this.#db.write(
      () =>
        this.#db.sqlite
          .prepare(
            // Resuming starts from now: fires while paused are not caught up.
            `UPDATE schedules SET state = ?, last_fire_at = CASE WHEN ? = 'ENABLED' AND state = 'DISABLED' THEN ? ELSE last_fire_at END
             WHERE queue = ? AND name = ?`,
          )
          .run(state, state, now, this.#queue.name, name).changes > 0,
    );
  }

  // recordFire — condition: last_fire_at absent or < at. Outcome: true when this call recorded it.
  async recordFire(name: string, at: number): Promise<boolean> {
    return this.#db.write(
      () =>
        this.#db.sqlite
          .prepare(
            'UPDATE schedules SET last_fire_at = ? WHERE queue = ? AND name = ? AND (last_fire_at IS NULL OR last_fire_at < ?)',
          )
          .run(at, this.#queue.name, name, at).changes > 0,
    );
  }

  // scheduleOnce — insert unless the name exists. Outcomes: created | exists.
  async scheduleOnce(timer: OneTimeTimer): Promise<'created' | 'exists'> {
    const changes = await this.#db.write(
      () =>
        this.#db.sqlite
          .prepare('INSERT INTO timers (queue, name, due_at, message) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
          .run(this.#queue.name, timer.name, timer.at, JSON.stringify(timer.message)).changes,
    );
    return changes > 0 ? 'created' : 'exists';
  }

  async cancelOnce(name: string): Promise<boolean> {
    return this.#db.write(
      () =>
        this.#db.sqlite.prepare('DELETE FROM timers WHERE queue = ? AND name = ?').run(this.#queue.name, name).changes >
        0,
    );
  }

  /**
   * Send due timers, then delete them. A crash in between sends them again on the next tick; the
   * queue's deduplication (same deduplication id and body) drops the copy, and the store's claim
   * would refuse a second run anyway.
   */
  async releaseDue(now: number): Promise<number> {
    const due = this.#db.sqlite
      .prepare('SELECT name, due_at, message FROM timers WHERE queue = ? AND due_at <= ? ORDER BY due_at LIMIT ?')
      .all(this.#queue.name, now, RELEASE_BATCH) as { name: string; due_at: number; message: string }[];
    if (due.length === 0) return 0;
    await this.#queue.send(due.map((row) => JSON.parse(row.message) as OutgoingMessage));
    await this.#db.write(() => {
      const remove = this.#db.sqlite.prepare('DELETE FROM timers WHERE queue = ? AND name = ? AND due_at = ?');
      for (const row of due) remove.run(this.#queue.name, row.name, row.due_at);
    }, due.length);
    return due.length;
  }
}
