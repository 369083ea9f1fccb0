import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClaimInput, TaskRecord, TaskStore } from 'spool-tasks';
import { type EmbeddedBackend, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { LISTABLE, SCHEMA_VERSION } from '../../lib/embedded/database.js';
import { SWEEP_EVERY, SWEEP_SPAN } from '../../lib/embedded/store.js';

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const TTL = T0 + 86_400_000;
const opened: EmbeddedBackend[] = [];
const dirs: string[] = [];
let clock = T0;

function openStore(): { store: TaskStore; backend: EmbeddedBackend } {
  const dir = join(tmpdir(), `spool-store-test-${randomUUID()}`);
  dirs.push(dir);
  const backend = openEmbeddedBackend({ path: join(dir, 'spool.db'), now: () => clock });
  opened.push(backend);
  return { store: backend.store, backend };
}

function claimInput(id: string, owner: string, now: number, extra: Partial<ClaimInput> = {}): ClaimInput {
  return { id, task: 'send-email', owner, now, leaseMs: LEASE, maxAttempts: 3, expiresAt: TTL, ...extra };
}

/** A record never carries `undefined` values (exactOptionalPropertyTypes). */
function expectClean(record: TaskRecord | undefined): void {
  expect(record).toBeDefined();
  expect(Object.values(record ?? {}).includes(undefined)).toBe(false);
}

const boom = { name: 'Error', message: 'boom' };

afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  clock = T0;
});

describe('EmbeddedStore.claim', () => {
  it('GIVEN no record WHEN claimed THEN it is running, attempt 1, leased to the owner', async () => {
    const { store } = openStore();
    expect(await store.get('t1')).toBeUndefined();
    const result = await store.claim(claimInput('t1', 'w1', T0, { uniqueKey: 'u' }));
    const expected: TaskRecord = {
      id: 't1',
      task: 'send-email',
      state: 'running',
      attempt: 1,
      leaseOwner: 'w1',
      leaseExpiresAt: T0 + LEASE,
      uniqueKey: 'u',
      createdAt: T0,
      updatedAt: T0,
      startedAt: T0,
      expiresAt: TTL,
    };
    expect(result).toEqual({ outcome: 'claimed', record: expected });
    expect(await store.get('t1')).toEqual(expected);
    expectClean(await store.get('t1'));
  });

  it('GIVEN a live lease WHEN another worker claims THEN leased; AFTER expiry THEN it takes over', async () => {
    const { store } = openStore();
    await store.claim(claimInput('t1', 'w1', T0));
    const leased = await store.claim(claimInput('t1', 'w2', T0 + LEASE - 1));
    expect(leased).toMatchObject({ outcome: 'leased', record: { leaseOwner: 'w1', leaseExpiresAt: T0 + LEASE } });
    const taken = await store.claim(claimInput('t1', 'w2', T0 + LEASE));
    expect(taken).toMatchObject({
      outcome: 'claimed',
      record: { attempt: 2, leaseOwner: 'w2', startedAt: T0 + LEASE },
    });
    expect(await store.heartbeat({ id: 't1', owner: 'w1', now: T0 + LEASE, leaseMs: LEASE })).toEqual({
      outcome: 'lost',
    });
    const late = { id: 't1', owner: 'w1', now: T0 + LEASE, state: 'succeeded', expiresAt: TTL } as const;
    expect(await store.finish(late)).toEqual({ outcome: 'lost' });
  });

  it('GIVEN an expired lease with no attempts left WHEN claimed THEN exhausted, nothing written', async () => {
    const { store } = openStore();
    await store.claim(claimInput('t1', 'w1', T0, { maxAttempts: 1 }));
    const result = await store.claim(claimInput('t1', 'w2', T0 + LEASE, { maxAttempts: 1 }));
    expect(result).toMatchObject({ outcome: 'exhausted', record: { attempt: 1, leaseOwner: 'w1' } });
  });

  it('GIVEN a terminal or cancelled run WHEN claimed THEN finished; GIVEN retrying THEN claimed again', async () => {
    const { store } = openStore();
    await store.claim(claimInput('done', 'w1', T0));
    await store.finish({ id: 'done', owner: 'w1', now: T0 + 1, state: 'succeeded', result: '1', expiresAt: TTL });
    expect(await store.claim(claimInput('done', 'w2', T0 + 2))).toMatchObject({
      outcome: 'finished',
      record: { state: 'succeeded' },
    });
    await store.cancel({ id: 'gone', now: T0, expiresAt: TTL });
    expect(await store.claim(claimInput('gone', 'w1', T0))).toMatchObject({
      outcome: 'finished',
      record: { state: 'cancelled' },
    });
    await store.claim(claimInput('again', 'w1', T0));
    await store.finish({
      id: 'again',
      owner: 'w1',
      now: T0,
      state: 'retrying',
      error: boom,
      nextRunAt: T0 + 5,
      expiresAt: TTL,
    });
    const retried = await store.claim(claimInput('again', 'w2', T0 + 5));
    expect(retried).toMatchObject({ outcome: 'claimed', record: { attempt: 2, state: 'running', leaseOwner: 'w2' } });
  });

  it('GIVEN a singleton lock held by another run WHEN claimed THEN singleton-busy until released or expired', async () => {
    const { store } = openStore();
    await store.claim(claimInput('a', 'wa', T0, { singletonKey: 'k' }));
    expect(await store.claim(claimInput('b', 'wb', T0 + 1, { singletonKey: 'k' }))).toEqual({
      outcome: 'singleton-busy',
      holderId: 'a',
      heldUntil: T0 + LEASE,
    });
    expect(await store.get('b')).toBeUndefined();
    // The heartbeat extends the lock with the lease.
    await store.heartbeat({ id: 'a', owner: 'wa', now: T0 + 10_000, leaseMs: LEASE, singletonKey: 'k' });
    expect(await store.claim(claimInput('b', 'wb', T0 + LEASE, { singletonKey: 'k' }))).toMatchObject({
      outcome: 'singleton-busy',
      heldUntil: T0 + 10_000 + LEASE,
    });
    // Finishing (even non-terminally) releases it.
    const finishA = {
      id: 'a',
      owner: 'wa',
      now: T0 + 11_000,
      state: 'retrying',
      nextRunAt: T0,
      expiresAt: TTL,
    } as const;
    await store.finish({ ...finishA, singletonKey: 'k' });
    expect(await store.claim(claimInput('b', 'wb', T0 + 11_000, { singletonKey: 'k' }))).toMatchObject({
      outcome: 'claimed',
      record: { singletonKey: 'k' },
    });
    // The lock expires with b's lease; a may then take it; b's own retry may take its own lock.
    expect(await store.claim(claimInput('a', 'wa2', T0 + 11_000 + LEASE, { singletonKey: 'k' }))).toMatchObject({
      outcome: 'claimed',
    });
    expect(await store.claim(claimInput('a', 'wa3', T0 + 11_000 + 2 * LEASE, { singletonKey: 'k' }))).toMatchObject({
      outcome: 'claimed',
      record: { attempt: 3 },
    });
    // Finish releases only the lock it is told the run holds.
    await store.claim(claimInput('c', 'wc', T0, { singletonKey: 'k2' }));
    await store.finish({ id: 'c', owner: 'wc', now: T0 + 1, state: 'succeeded', expiresAt: TTL, singletonKey: 'k3' });
    expect(await store.claim(claimInput('d', 'wd', T0 + 2, { singletonKey: 'k2' }))).toMatchObject({
      outcome: 'singleton-busy',
      holderId: 'c',
    });
  });
});

describe('EmbeddedStore.heartbeat', () => {
  it('GIVEN our lease WHEN heartbeating THEN renewed with progress; after cancel THEN cancelRequested', async () => {
    const { store } = openStore();
    await store.claim(claimInput('t1', 'w1', T0));
    const beat = { id: 't1', owner: 'w1', now: T0 + 1000, leaseMs: LEASE, progress: '{"pct":50}' };
    expect(await store.heartbeat(beat)).toEqual({ outcome: 'renewed', cancelRequested: false });
    expect(await store.get('t1')).toMatchObject({ leaseExpiresAt: T0 + 1000 + LEASE, progress: '{"pct":50}' });
    expect(await store.cancel({ id: 't1', now: T0 + 2000, expiresAt: TTL })).toMatchObject({
      outcome: 'requested',
      record: { state: 'running', cancelRequested: true },
    });
    expect(await store.heartbeat({ ...beat, now: T0 + 3000 })).toEqual({ outcome: 'renewed', cancelRequested: true });
    expect(await store.heartbeat({ ...beat, owner: 'other' })).toEqual({ outcome: 'lost' });
    expect(await store.heartbeat({ ...beat, id: 'absent' })).toEqual({ outcome: 'lost' });
  });
});

describe('EmbeddedStore.finish', () => {
  it('GIVEN our lease WHEN finished terminally THEN recorded, lease removed, unique lock released', async () => {
    const { store } = openStore();
    await store.acquireUnique({ key: 'u', id: 't1', now: T0, ttlMs: 60_000 });
    await store.claim(claimInput('t1', 'w1', T0, { uniqueKey: 'u' }));
    await store.finish({
      id: 't1',
      owner: 'w1',
      now: T0 + 1,
      state: 'retrying',
      error: boom,
      nextRunAt: T0 + 9,
      expiresAt: TTL,
      uniqueKey: 'u',
    });
    const retrying = await store.get('t1');
    expect(retrying).toMatchObject({ state: 'retrying', error: boom, nextRunAt: T0 + 9 });
    expect(retrying?.finishedAt).toBeUndefined();
    expect(retrying?.leaseOwner).toBeUndefined();
    expectClean(retrying);
    expect(await store.acquireUnique({ key: 'u', id: 'other', now: T0 + 2, ttlMs: 1 })).toMatchObject({
      outcome: 'held',
    });

    await store.claim(claimInput('t1', 'w2', T0 + 10, { uniqueKey: 'u' }));
    const done = await store.finish({
      id: 't1',
      owner: 'w2',
      now: T0 + 20,
      state: 'succeeded',
      result: '"ok"',
      expiresAt: TTL + 1,
      uniqueKey: 'u',
    });
    const expected: TaskRecord = {
      id: 't1',
      task: 'send-email',
      state: 'succeeded',
      attempt: 2,
      result: '"ok"',
      uniqueKey: 'u',
      createdAt: T0,
      updatedAt: T0 + 20,
      startedAt: T0 + 10,
      finishedAt: T0 + 20,
      expiresAt: TTL + 1,
    };
    expect(done).toEqual({ outcome: 'finished' });
    expect(await store.get('t1')).toEqual(expected);
    expect(await store.acquireUnique({ key: 'u', id: 'other', now: T0 + 21, ttlMs: 1 })).toEqual({
      outcome: 'acquired',
    });
    expect(await store.finish({ id: 't1', owner: 'w2', now: T0 + 30, state: 'failed', expiresAt: TTL })).toEqual({
      outcome: 'lost',
    });
  });
});

describe('EmbeddedStore.deadLetter', () => {
  it('GIVEN each starting state WHEN dead-lettered THEN dead or unchanged as the port says', async () => {
    const { store } = openStore();
    const input = (id: string, now = T0) => ({ id, task: 'job', now, error: boom, expiresAt: TTL });
    expect(await store.deadLetter(input('absent'))).toMatchObject({
      outcome: 'dead',
      record: { id: 'absent', task: 'job', state: 'dead', attempt: 0, error: boom, finishedAt: T0 },
    });
    await store.acquireUnique({ key: 'u', id: 'run', now: T0, ttlMs: 60_000 });
    await store.claim(claimInput('run', 'w1', T0, { uniqueKey: 'u' }));
    expect(await store.deadLetter(input('run', T0 + LEASE - 1))).toMatchObject({
      outcome: 'unchanged',
      record: { state: 'running' },
    });
    const dead = await store.deadLetter(input('run', T0 + LEASE));
    expect(dead).toMatchObject({ outcome: 'dead', record: { state: 'dead', attempt: 1 } });
    expect(dead.record.leaseOwner).toBeUndefined();
    expect(await store.acquireUnique({ key: 'u', id: 'x', now: T0 + LEASE, ttlMs: 1 })).toEqual({
      outcome: 'acquired',
    });
    expect(await store.deadLetter(input('run', T0 + LEASE + 1))).toMatchObject({ outcome: 'unchanged' });
    await store.claim(claimInput('r', 'w1', T0));
    await store.finish({ id: 'r', owner: 'w1', now: T0, state: 'retrying', nextRunAt: T0, expiresAt: TTL });
    expect(await store.deadLetter(input('r'))).toMatchObject({ outcome: 'dead' });
    await store.revive({ id: 'r', now: T0, expiresAt: TTL });
    expect(await store.deadLetter(input('r'))).toMatchObject({ outcome: 'dead', record: { state: 'dead' } });
  });
});

describe('EmbeddedStore.cancel', () => {
  it('GIVEN absent, queued, running and terminal runs WHEN cancelled THEN cancelled, requested, finished', async () => {
    const { store } = openStore();
    const unknown = await store.cancel({ id: 'unknown', now: T0, expiresAt: TTL });
    expect(unknown).toMatchObject({
      outcome: 'cancelled',
      record: { id: 'unknown', state: 'cancelled', attempt: 0, finishedAt: T0 },
    });
    expect(unknown.record).not.toHaveProperty('task');
    expect(await store.get('unknown')).not.toHaveProperty('task');
    expect(await store.cancel({ id: 'named', task: 'job', now: T0, expiresAt: TTL })).toMatchObject({
      outcome: 'cancelled',
      record: { task: 'job' },
    });
    await store.acquireUnique({ key: 'u', id: 'q', now: T0, ttlMs: 60_000 });
    await store.claim(claimInput('q', 'w1', T0, { uniqueKey: 'u' }));
    await store.finish({ id: 'q', owner: 'w1', now: T0, state: 'retrying', nextRunAt: T0 + 1, expiresAt: TTL });
    expect(await store.cancel({ id: 'q', now: T0 + 1, expiresAt: TTL })).toMatchObject({
      outcome: 'cancelled',
      record: { state: 'cancelled' },
    });
    expect(await store.acquireUnique({ key: 'u', id: 'x', now: T0 + 1, ttlMs: 1 })).toEqual({ outcome: 'acquired' });
    await store.claim(claimInput('r', 'w1', T0));
    expect(await store.cancel({ id: 'r', now: T0, expiresAt: TTL })).toMatchObject({ outcome: 'requested' });
    expect(await store.cancel({ id: 'unknown', now: T0, expiresAt: TTL })).toMatchObject({
      outcome: 'finished',
      record: { state: 'cancelled' },
    });
  });
});

describe('EmbeddedStore.revive', () => {
  it('GIVEN absent, not-dead and dead runs WHEN revived THEN absent, not-dead, revived (queued, attempt 0)', async () => {
    const { store } = openStore();
    expect(await store.revive({ id: 'x', now: T0, expiresAt: TTL })).toEqual({ outcome: 'absent' });
    await store.claim(claimInput('r', 'w1', T0));
    expect(await store.revive({ id: 'r', now: T0, expiresAt: TTL })).toMatchObject({ outcome: 'not-dead' });
    await store.finish({ id: 'r', owner: 'w1', now: T0, state: 'dead', error: boom, expiresAt: TTL });
    const revived = await store.revive({ id: 'r', now: T0 + 5, expiresAt: TTL + 5 });
    expect(revived).toMatchObject({
      outcome: 'revived',
      record: { state: 'queued', attempt: 0, updatedAt: T0 + 5, expiresAt: TTL + 5 },
    });
    expectClean(await store.get('r'));
    expect(await store.claim(claimInput('r', 'w2', T0 + 6))).toMatchObject({
      outcome: 'claimed',
      record: { attempt: 1 },
    });
  });
});

describe('EmbeddedStore unique locks', () => {
  it('GIVEN a held lock WHEN acquired by others THEN held unless expired, same id, or replaceHolder', async () => {
    const { store } = openStore();
    expect(await store.acquireUnique({ key: 'k', id: 'a', now: T0, ttlMs: 1000 })).toEqual({ outcome: 'acquired' });
    expect(await store.acquireUnique({ key: 'k', id: 'b', now: T0 + 1, ttlMs: 1000 })).toEqual({
      outcome: 'held',
      holderId: 'a',
      expiresAt: T0 + 1000,
    });
    expect(await store.acquireUnique({ key: 'k', id: 'a', now: T0 + 2, ttlMs: 1000 })).toEqual({ outcome: 'acquired' });
    const replace = { key: 'k', id: 'b', now: T0 + 3, ttlMs: 1000, replaceHolder: 'a' };
    expect(await store.acquireUnique(replace)).toEqual({ outcome: 'acquired' });
    expect(await store.acquireUnique({ key: 'k', id: 'c', now: T0 + 1002, ttlMs: 1000 })).toMatchObject({
      outcome: 'held',
      holderId: 'b',
    });
    expect(await store.acquireUnique({ key: 'k', id: 'c', now: T0 + 1003, ttlMs: 1000 })).toEqual({
      outcome: 'acquired',
    });
  });

  it('GIVEN a lock WHEN released by a non-holder THEN it stays; by the holder THEN it is gone', async () => {
    const { store } = openStore();
    await store.acquireUnique({ key: 'k', id: 'a', now: T0, ttlMs: 60_000 });
    await store.releaseUnique('k', 'b');
    expect(await store.acquireUnique({ key: 'k', id: 'b', now: T0, ttlMs: 1 })).toMatchObject({ outcome: 'held' });
    await store.releaseUnique('k', 'a');
    expect(await store.acquireUnique({ key: 'k', id: 'b', now: T0, ttlMs: 1 })).toEqual({ outcome: 'acquired' });
  });
});

describe('EmbeddedStore TTL and list', () => {
  it('GIVEN an expired record WHEN read, listed or claimed THEN it is absent', async () => {
    const { store } = openStore();
    await store.cancel({ id: 't', now: T0, expiresAt: T0 + 100 });
    expect(await store.get('t')).toMatchObject({ state: 'cancelled' });
    expect(await store.list('cancelled', { limit: 10 })).toHaveLength(1);
    clock = T0 + 100;
    expect(await store.get('t')).toBeUndefined();
    expect(await store.list('cancelled', { limit: 10 })).toEqual([]);
    expect(await store.revive({ id: 't', now: clock, expiresAt: TTL })).toEqual({ outcome: 'absent' });
    expect(await store.claim(claimInput('t', 'w', clock))).toMatchObject({
      outcome: 'claimed',
      record: { attempt: 1 },
    });
    expect((await store.get('t'))?.createdAt).toBe(T0 + 100);
  });

  it('GIVEN many expired rows WHEN writes go on THEN the sweep deletes them', async () => {
    const { store, backend } = openStore();
    for (let i = 0; i < 10; i++) await store.cancel({ id: `old${i}`, now: T0, expiresAt: T0 + 1 });
    await store.acquireUnique({ key: 'old', id: 'x', now: T0, ttlMs: 1 });
    for (let i = 0; i < SWEEP_EVERY; i++) await store.cancel({ id: `new${i}`, now: T0 + 10, expiresAt: TTL });
    const raw = new Database(backend.path, { readonly: true });
    try {
      expect(
        raw
          .prepare('SELECT count(*) FROM tasks WHERE expires_at <= ?')
          .pluck()
          .get(T0 + 10),
      ).toBe(0);
      expect(raw.prepare('SELECT count(*) FROM locks').pluck().get()).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('GIVEN more records than one sweep looks at WHEN writes go on THEN expired ones anywhere in the table go', async () => {
    const { store, backend } = openStore();
    const live = 2 * SWEEP_SPAN;
    const writes = (count: number, prefix: string, expiresAt: number, now = T0) =>
      Promise.all(Array.from({ length: count }, (_, i) => store.cancel({ id: `${prefix}${i}`, now, expiresAt })));
    await writes(10, 'early', T0 + 1);
    await writes(live, 'live', TTL);
    await writes(10, 'late', T0 + 1);
    const expired = () => {
      const raw = new Database(backend.path, { readonly: true });
      try {
        return raw
          .prepare('SELECT count(*) FROM tasks WHERE expires_at <= ?')
          .pluck()
          .get(T0 + 10);
      } finally {
        raw.close();
      }
    };
    expect(expired()).toBeGreaterThan(0);
    // The cursor goes round the table: one sweep per SWEEP_EVERY writes, SWEEP_SPAN records each.
    const sweepsForOneRound = Math.ceil((live + 20) / SWEEP_SPAN) + 1;
    await writes(sweepsForOneRound * SWEEP_EVERY, 'more', TTL, T0 + 10);
    expect(expired()).toBe(0);
    expect(await store.get('live0')).toMatchObject({ state: 'cancelled' });
  });

  it('GIVEN a file of schema version 2 WHEN opened THEN migrated: the list index is rebuilt and the expiry index dropped', async () => {
    const { backend } = openStore();
    const path = backend.path;
    await backend.store.cancel({ id: 'kept', now: T0, expiresAt: TTL });
    backend.close();
    const raw = new Database(path);
    raw.exec(`DROP INDEX tasks_by_state;
      CREATE INDEX tasks_by_state ON tasks (state, updated_at) WHERE state IN ('retrying', 'failed', 'dead', 'cancelled');
      CREATE INDEX tasks_by_expiry ON tasks (expires_at);
      PRAGMA user_version = 2;`);
    raw.close();
    const reopened = openEmbeddedBackend({ path, now: () => clock });
    opened.push(reopened);
    expect((await reopened.store.list('cancelled', { limit: 5 })).map((r) => r.id)).toEqual(['kept']);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const indexes = check
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL")
        .all() as { name: string; sql: string }[];
      expect(indexes.map((i) => i.name)).toEqual(['tasks_by_state']);
      expect(indexes[0]?.sql).not.toMatch(/ IN \(/);
      // list reads through the partial index, not the whole table.
      const plan = check
        .prepare(
          `EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE state = ? AND ${LISTABLE} AND expires_at > ? ORDER BY updated_at DESC LIMIT 5`,
        )
        .all('dead', T0) as { detail: string }[];
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX tasks_by_state/);
    } finally {
      check.close();
    }
  });

  it('GIVEN records in several states WHEN listed THEN only that state, most recently updated first, limited', async () => {
    const { store } = openStore();
    for (const [id, at] of [
      ['a', T0 + 3],
      ['b', T0 + 1],
      ['c', T0 + 2],
    ] as const) {
      await store.claim(claimInput(id, 'w', T0));
      await store.finish({ id, owner: 'w', now: at, state: 'failed', error: boom, expiresAt: TTL });
    }
    await store.cancel({ id: 'z', now: T0 + 9, expiresAt: TTL });
    const failed = await store.list('failed', { limit: 10 });
    expect(failed.map((r) => r.id)).toEqual(['a', 'c', 'b']);
    failed.forEach(expectClean);
    expect((await store.list('failed', { limit: 2 })).map((r) => r.id)).toEqual(['a', 'c']);
    expect(await store.list('dead', { limit: 10 })).toEqual([]);
    await expect(store.list('failed', { limit: 0 })).rejects.toThrow(/limit must be an integer ≥ 1, got 0/);
  });
});
