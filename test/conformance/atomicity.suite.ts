/**
 * Atomicity: each store method is one atomic step, but for the follow-ups the port names (the
 * unique lock `deadLetter` and `cancel` release after their write). These tests produce, through
 * the port only, each state the contract allows between two writes, and check that it is repaired;
 * and they check that `finish` and `heartbeat` leave a run's record and its locks consistent.
 */

import { defineTask, type TaskStore } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BackendFactory, suffix, useHarness } from './harness.js';

const LEASE = 10_000;
const HOUR = 3_600_000;

/** Who holds the singleton lock `key` at `now` (a probe claim; a free lock is left free). */
async function singletonHolder(store: TaskStore, key: string, now: number) {
  const probe = `probe-${suffix()}`;
  const claim = await store.claim({
    id: probe,
    task: 'probe',
    owner: probe,
    now,
    leaseMs: LEASE,
    maxAttempts: 1,
    expiresAt: now + HOUR,
    singletonKey: key,
  });
  if (claim.outcome === 'singleton-busy') return { holderId: claim.holderId, heldUntil: claim.heldUntil };
  expect(claim.outcome).toBe('claimed');
  await store.finish({ id: probe, owner: probe, now, state: 'succeeded', expiresAt: now + HOUR, singletonKey: key });
  return 'free';
}

/** Who holds the unique lock `key` at `now` (a probe acquire; a free lock is left free). */
async function uniqueHolder(store: TaskStore, key: string, now: number) {
  const probe = `probe-${suffix()}`;
  const lock = await store.acquireUnique({ key, id: probe, now, ttlMs: LEASE });
  if (lock.outcome === 'held') return lock.holderId;
  await store.releaseUnique(key, probe);
  return 'free';
}

export function atomicity(factory: BackendFactory) {
  const app = useHarness(factory);

  /** A fresh store, and a time to start from. */
  async function fresh() {
    const { backend, clock } = await app([], { worker: false });
    const t0 = clock.now();
    const store = backend.store;
    const claim = (id: string, now: number, keys: { singletonKey?: string; uniqueKey?: string } = {}) =>
      store.claim({
        id,
        task: 'job',
        owner: `${id}/owner`,
        now,
        leaseMs: LEASE,
        maxAttempts: 3,
        expiresAt: t0 + HOUR,
        ...keys,
      });
    return { store, t0, claim };
  }

  describe('atomicity: follow-up writes and lock consistency', () => {
    for (const end of ['cancel', 'deadLetter'] as const) {
      it(`GIVEN a unique lock naming a run that ${end} ended without releasing it (what a crash between its two writes leaves) WHEN the unique task is enqueued THEN the lock is taken over and the run runs`, async () => {
        const t = defineTask({
          name: `ghost.${suffix()}`,
          schema: z.object({ n: z.number() }),
          unique: { key: () => 'k', ttlSeconds: 60 },
          handler: ({ n }) => n * 10,
        });
        const { spool, clock, backend, startWorker } = await app([t], { worker: false });
        const { store } = backend;
        const key = `${t.name}:k`;
        const ghost = `ghost-${suffix()}`;
        const now = clock.now();
        // The lock's first write: the lock names `ghost`, a run with no record.
        expect(await store.acquireUnique({ key, id: ghost, now, ttlMs: 60_000 })).toEqual({ outcome: 'acquired' });
        const waiting = await spool.enqueue(t, { n: 1 });
        expect({ existing: waiting.existing, id: waiting.id }).toEqual({ existing: true, id: ghost });
        // The run ends; its record has no uniqueKey, so the lock stays, as after a crash before the follow-up.
        const ended =
          end === 'cancel'
            ? await store.cancel({ id: ghost, task: t.name, now, expiresAt: now + HOUR })
            : await store.deadLetter({
                id: ghost,
                task: t.name,
                now,
                error: { name: 'Error', message: 'gone' },
                expiresAt: now + HOUR,
              });
        expect(ended.outcome).toBe(end === 'cancel' ? 'cancelled' : 'dead');
        expect(ended.record.uniqueKey).toBeUndefined();
        expect(await uniqueHolder(store, key, now)).toBe(ghost);

        const next = await spool.enqueue(t, { n: 2 });
        expect(next.existing).toBe(false);
        expect(next.id).not.toBe(ghost);
        expect(await uniqueHolder(store, key, clock.now())).toBe(next.id);
        await startWorker();
        await expect(next.result({ timeoutMs: 15_000 })).resolves.toBe(20);
        expect(await uniqueHolder(store, key, clock.now())).toBe('free');
      });
    }

    it('GIVEN a retrying unique run WHEN cancelled THEN it is cancelled and its unique lock is free', async () => {
      const { store, t0, claim } = await fresh();
      await store.acquireUnique({ key: 'u', id: 'a', now: t0, ttlMs: HOUR });
      await claim('a', t0, { uniqueKey: 'u' });
      const retry = { id: 'a', owner: 'a/owner', now: t0 + 1, expiresAt: t0 + HOUR, uniqueKey: 'u' };
      await store.finish({ ...retry, state: 'retrying', nextRunAt: t0 + 2, error: { name: 'Error', message: 'x' } });
      expect(await uniqueHolder(store, 'u', t0 + 2)).toBe('a');
      const cancelled = await store.cancel({ id: 'a', now: t0 + 3, expiresAt: t0 + HOUR });
      expect(cancelled).toMatchObject({ outcome: 'cancelled', record: { state: 'cancelled', uniqueKey: 'u' } });
      expect(await uniqueHolder(store, 'u', t0 + 4)).toBe('free');
    });

    it('GIVEN a unique run whose lease lapsed WHEN dead-lettered THEN it is dead and its unique lock is free', async () => {
      const { store, t0, claim } = await fresh();
      await store.acquireUnique({ key: 'u', id: 'a', now: t0, ttlMs: HOUR });
      await claim('a', t0, { uniqueKey: 'u' });
      const error = { name: 'Error', message: 'lease lost' };
      const early = await store.deadLetter({ id: 'a', task: 'job', now: t0 + 1, error, expiresAt: t0 + HOUR });
      expect(early.outcome).toBe('unchanged');
      expect(await uniqueHolder(store, 'u', t0 + 2)).toBe('a');
      const dead = await store.deadLetter({ id: 'a', task: 'job', now: t0 + LEASE, error, expiresAt: t0 + HOUR });
      expect(dead).toMatchObject({ outcome: 'dead', record: { state: 'dead', uniqueKey: 'u' } });
      expect(await uniqueHolder(store, 'u', t0 + LEASE + 1)).toBe('free');
    });

    it('GIVEN a singleton and unique run WHEN it finishes THEN record and locks change together: terminal frees both, retrying only the singleton, a lost lease neither', async () => {
      const { store, t0, claim } = await fresh();
      const keys = { singletonKey: 's', uniqueKey: 'u' };
      await store.acquireUnique({ key: 'u', id: 'a', now: t0, ttlMs: HOUR });
      await claim('a', t0, keys);
      const base = { id: 'a', expiresAt: t0 + HOUR, ...keys };
      // A lost lease: nothing is written, the locks stay.
      expect(await store.finish({ ...base, owner: 'other', now: t0 + 1, state: 'succeeded' })).toEqual({
        outcome: 'lost',
      });
      expect(await store.get('a')).toMatchObject({ state: 'running', leaseOwner: 'a/owner' });
      expect(await singletonHolder(store, 's', t0 + 2)).toEqual({ holderId: 'a', heldUntil: t0 + LEASE });
      expect(await uniqueHolder(store, 'u', t0 + 2)).toBe('a');
      // Retrying: the singleton lock goes with the lease, the unique lock stays until the run ends.
      const retrying = await store.finish({
        ...base,
        owner: 'a/owner',
        now: t0 + 3,
        state: 'retrying',
        nextRunAt: t0 + 4,
        error: { name: 'Error', message: 'x' },
      });
      expect(retrying).toEqual({ outcome: 'finished' });
      expect(await store.get('a')).toMatchObject({ state: 'retrying', nextRunAt: t0 + 4 });
      expect(await singletonHolder(store, 's', t0 + 4)).toBe('free');
      expect(await uniqueHolder(store, 'u', t0 + 4)).toBe('a');
      // Terminal: both go.
      await claim('a', t0 + 5, keys);
      expect(await store.finish({ ...base, owner: 'a/owner', now: t0 + 6, state: 'succeeded', result: '1' })).toEqual({
        outcome: 'finished',
      });
      const record = await store.get('a');
      expect(record).toMatchObject({ state: 'succeeded', result: '1', finishedAt: t0 + 6 });
      expect(record?.leaseOwner).toBeUndefined();
      expect(await singletonHolder(store, 's', t0 + 7)).toBe('free');
      expect(await uniqueHolder(store, 'u', t0 + 7)).toBe('free');
    });

    it('GIVEN a singleton lock that lapsed and another run took WHEN the first run finishes THEN its record is written and the other keeps the lock', async () => {
      const { store, t0, claim } = await fresh();
      await claim('a', t0, { singletonKey: 's' });
      expect((await claim('b', t0 + LEASE + 1, { singletonKey: 's' })).outcome).toBe('claimed');
      const finished = await store.finish({
        id: 'a',
        owner: 'a/owner',
        now: t0 + LEASE + 2,
        state: 'succeeded',
        expiresAt: t0 + HOUR,
        singletonKey: 's',
      });
      expect(finished).toEqual({ outcome: 'finished' });
      expect(await store.get('a')).toMatchObject({ state: 'succeeded', finishedAt: t0 + LEASE + 2 });
      expect(await singletonHolder(store, 's', t0 + LEASE + 3)).toEqual({
        holderId: 'b',
        heldUntil: t0 + LEASE + 1 + LEASE,
      });
    });

    it('GIVEN a singleton lock that is gone WHEN the run that held it finishes THEN its record is written', async () => {
      const { store, t0, claim } = await fresh();
      await claim('a', t0, { singletonKey: 's' });
      await claim('b', t0 + LEASE + 1, { singletonKey: 's' });
      const end = { state: 'succeeded', expiresAt: t0 + HOUR, singletonKey: 's' } as const;
      await store.finish({ id: 'b', owner: 'b/owner', now: t0 + LEASE + 2, ...end });
      expect(await store.finish({ id: 'a', owner: 'a/owner', now: t0 + LEASE + 3, ...end })).toEqual({
        outcome: 'finished',
      });
      expect(await store.get('a')).toMatchObject({ state: 'succeeded', finishedAt: t0 + LEASE + 3 });
      expect(await singletonHolder(store, 's', t0 + LEASE + 4)).toBe('free');
    });

    it('GIVEN a singleton run WHEN it heartbeats THEN its lease and its lock move together; with another owner THEN neither moves', async () => {
      const { store, t0, claim } = await fresh();
      await claim('a', t0, { singletonKey: 's' });
      const beat = { id: 'a', leaseMs: LEASE, singletonKey: 's' };
      expect(await store.heartbeat({ ...beat, owner: 'other', now: t0 + 1 })).toEqual({ outcome: 'lost' });
      expect(await store.get('a')).toMatchObject({ leaseExpiresAt: t0 + LEASE });
      expect(await singletonHolder(store, 's', t0 + 2)).toEqual({ holderId: 'a', heldUntil: t0 + LEASE });
      const renewed = await store.heartbeat({ ...beat, owner: 'a/owner', now: t0 + 5000, progress: '"half"' });
      expect(renewed).toEqual({ outcome: 'renewed', cancelRequested: false });
      expect(await store.get('a')).toMatchObject({ leaseExpiresAt: t0 + 5000 + LEASE, progress: '"half"' });
      expect(await singletonHolder(store, 's', t0 + LEASE + 1)).toEqual({
        holderId: 'a',
        heldUntil: t0 + 5000 + LEASE,
      });
    });

    it('GIVEN a singleton run whose cancel was requested WHEN it heartbeats THEN renewed with cancelRequested, lease and lock extended', async () => {
      const { store, t0, claim } = await fresh();
      await claim('a', t0, { singletonKey: 's' });
      expect((await store.cancel({ id: 'a', now: t0 + 1, expiresAt: t0 + HOUR })).outcome).toBe('requested');
      const beat = { id: 'a', owner: 'a/owner', leaseMs: LEASE, singletonKey: 's' };
      expect(await store.heartbeat({ ...beat, now: t0 + 2 })).toEqual({ outcome: 'renewed', cancelRequested: true });
      expect(await store.heartbeat({ ...beat, now: t0 + 3 })).toEqual({ outcome: 'renewed', cancelRequested: true });
      expect(await store.get('a')).toMatchObject({ leaseExpiresAt: t0 + 3 + LEASE, cancelRequested: true });
      expect(await singletonHolder(store, 's', t0 + LEASE + 1)).toEqual({ holderId: 'a', heldUntil: t0 + 3 + LEASE });
    });

    it('GIVEN a singleton lock another run took WHEN the first run heartbeats THEN its lease is renewed and the other keeps the lock; once the lock is gone THEN the heartbeat takes it again', async () => {
      const { store, t0, claim } = await fresh();
      await claim('a', t0, { singletonKey: 's' });
      await claim('b', t0 + LEASE + 1, { singletonKey: 's' });
      const beat = { id: 'a', owner: 'a/owner', leaseMs: LEASE, singletonKey: 's' };
      expect(await store.heartbeat({ ...beat, now: t0 + LEASE + 2 })).toEqual({
        outcome: 'renewed',
        cancelRequested: false,
      });
      expect(await store.get('a')).toMatchObject({ leaseExpiresAt: t0 + LEASE + 2 + LEASE });
      expect(await singletonHolder(store, 's', t0 + LEASE + 3)).toEqual({
        holderId: 'b',
        heldUntil: t0 + LEASE + 1 + LEASE,
      });
      await store.finish({
        id: 'b',
        owner: 'b/owner',
        now: t0 + LEASE + 4,
        state: 'succeeded',
        expiresAt: t0 + HOUR,
        singletonKey: 's',
      });
      expect(await store.heartbeat({ ...beat, now: t0 + LEASE + 5 })).toEqual({
        outcome: 'renewed',
        cancelRequested: false,
      });
      expect(await singletonHolder(store, 's', t0 + LEASE + 6)).toEqual({
        holderId: 'a',
        heldUntil: t0 + LEASE + 5 + LEASE,
      });
    });
  });
}
