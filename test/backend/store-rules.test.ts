import type { TaskRecord, TaskState } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import {
  decideAcquireUnique,
  decideCancel,
  decideClaim,
  decideDeadLetter,
  decideRevive,
  holdsLease,
  mayTakeLock,
  recordBytes,
  recordFits,
  releasedAttempts,
  releasedLocks,
} from '../../lib/backend/store-rules.js';

const NOW = 1_700_000_000_000;
const TERMINAL: readonly TaskState[] = ['succeeded', 'failed', 'cancelled', 'dead'];

function record(state: TaskState, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { id: 't1', task: 'job', state, attempt: 1, createdAt: NOW, updatedAt: NOW, expiresAt: NOW + 1e6, ...extra };
}

const running = (leaseExpiresAt: number, extra: Partial<TaskRecord> = {}) =>
  record('running', { leaseOwner: 'w1', leaseExpiresAt, ...extra });

const claimInput = { id: 't1', now: NOW, maxAttempts: 3 };

describe('mayTakeLock', () => {
  it('GIVEN no lock, a lapsed one, or one held by the id THEN it may be taken', () => {
    expect(mayTakeLock(undefined, 'a', NOW)).toBe(true);
    expect(mayTakeLock({ holder: 'b', expiresAt: NOW }, 'a', NOW)).toBe(true);
    expect(mayTakeLock({ holder: 'a', expiresAt: NOW + 1 }, 'a', NOW)).toBe(true);
  });

  it('GIVEN a live lock held by another THEN only naming it as replaceHolder takes it', () => {
    const lock = { holder: 'b', expiresAt: NOW + 1 };
    expect(mayTakeLock(lock, 'a', NOW)).toBe(false);
    expect(mayTakeLock(lock, 'a', NOW, 'c')).toBe(false);
    expect(mayTakeLock(lock, 'a', NOW, 'b')).toBe(true);
  });
});

describe('holdsLease', () => {
  it('GIVEN a running record THEN only its lease owner holds it, lapsed or not; otherwise nobody', () => {
    expect(holdsLease(running(NOW - 1), 'w1')).toBe(true);
    expect(holdsLease(running(NOW + 1), 'w2')).toBe(false);
    expect(holdsLease(record('retrying', { leaseOwner: 'w1' }), 'w1')).toBe(false);
    expect(holdsLease(undefined, 'w1')).toBe(false);
  });
});

describe('decideClaim', () => {
  it('GIVEN a record bound to other arguments THEN conflict before every other outcome; the same hash, or none yet, claims', () => {
    const bound = { argsHash: 'h1' };
    for (const found of [
      record('queued', bound),
      record('retrying', bound),
      running(NOW + 1, bound),
      record('succeeded', bound),
    ]) {
      expect(decideClaim(found, { ...claimInput, argsHash: 'h2' })).toEqual({ outcome: 'conflict', record: found });
    }
    expect(decideClaim(record('retrying', bound), { ...claimInput, argsHash: 'h1' })).toEqual({ outcome: 'claim' });
    expect(decideClaim(record('retrying'), { ...claimInput, argsHash: 'h2' })).toEqual({ outcome: 'claim' });
    // A claim without a hash (a tool) compares nothing.
    expect(decideClaim(record('retrying', bound), claimInput)).toEqual({ outcome: 'claim' });
  });

  it('GIVEN no record, a queued, a retrying or a lapsed running one THEN claim', () => {
    for (const found of [undefined, record('queued'), record('retrying'), running(NOW)]) {
      expect(decideClaim(found, claimInput)).toEqual({ outcome: 'claim' });
    }
  });

  it('GIVEN a terminal record THEN finished, a cancelled one too', () => {
    for (const state of TERMINAL) {
      const found = record(state);
      expect(decideClaim(found, claimInput)).toEqual({ outcome: 'finished', record: found });
    }
  });

  it('GIVEN a live lease THEN leased; GIVEN a lapsed lease with no attempts left THEN exhausted', () => {
    const live = running(NOW + 1);
    expect(decideClaim(live, claimInput)).toEqual({ outcome: 'leased', record: live });
    const spent = running(NOW, { attempt: 3 });
    expect(decideClaim(spent, claimInput)).toEqual({ outcome: 'exhausted', record: spent });
  });

  it('GIVEN a singleton lock another run holds THEN singleton-busy until it lapses; held by this id THEN claim', () => {
    const lock = { holder: 'other', expiresAt: NOW + 5 };
    expect(decideClaim(record('queued'), claimInput, lock)).toEqual({
      outcome: 'singleton-busy',
      holderId: 'other',
      heldUntil: NOW + 5,
    });
    expect(decideClaim(undefined, { ...claimInput, now: NOW + 5 }, lock)).toEqual({ outcome: 'claim' });
    expect(decideClaim(undefined, claimInput, { holder: 't1', expiresAt: NOW + 5 })).toEqual({ outcome: 'claim' });
  });

  it('GIVEN a record that fails and a busy lock THEN the record outcome comes first', () => {
    const found = record('succeeded');
    expect(decideClaim(found, claimInput, { holder: 'other', expiresAt: NOW + 5 })).toEqual({
      outcome: 'finished',
      record: found,
    });
  });
});

describe('decideDeadLetter', () => {
  it('GIVEN a record bound to arguments THEN only a message with its hash dead-letters it; one without, or another, conflicts', () => {
    const found = record('retrying', { argsHash: 'h1' });
    expect(decideDeadLetter(found, { now: NOW, argsHash: 'h1' })).toEqual({ outcome: 'dead-letter' });
    expect(decideDeadLetter(found, { now: NOW, argsHash: 'h2' })).toEqual({ outcome: 'conflict', record: found });
    expect(decideDeadLetter(found, { now: NOW })).toEqual({ outcome: 'conflict', record: found });
    expect(decideDeadLetter(undefined, { now: NOW })).toEqual({ outcome: 'dead-letter' });
  });

  it('GIVEN no record, a queued, a retrying or a lapsed running one THEN dead-letter', () => {
    for (const found of [undefined, record('queued'), record('retrying'), running(NOW)]) {
      expect(decideDeadLetter(found, { now: NOW })).toEqual({ outcome: 'dead-letter' });
    }
  });

  it('GIVEN a terminal record or a live lease THEN unchanged, with the record as it is', () => {
    for (const found of [...TERMINAL.map((state) => record(state)), running(NOW + 1)]) {
      expect(decideDeadLetter(found, { now: NOW })).toEqual({ outcome: 'unchanged', record: found });
    }
  });
});

describe('decideCancel', () => {
  it('GIVEN no record, a queued or a retrying one THEN cancel (write A)', () => {
    for (const found of [undefined, record('queued'), record('retrying')]) {
      expect(decideCancel(found, {})).toEqual({ outcome: 'cancel' });
      expect(decideCancel(found, { onlyIfNotStarted: true })).toEqual({ outcome: 'cancel' });
    }
  });

  it('GIVEN a running record THEN request-cancel (write B), or running with onlyIfNotStarted, lease live or not', () => {
    for (const found of [running(NOW + 1), running(NOW - 1)]) {
      expect(decideCancel(found, {})).toEqual({ outcome: 'request-cancel' });
      expect(decideCancel(found, { onlyIfNotStarted: true })).toEqual({ outcome: 'running', record: found });
    }
  });

  it('GIVEN a terminal record THEN finished', () => {
    for (const state of TERMINAL) {
      const found = record(state);
      expect(decideCancel(found, { onlyIfNotStarted: true })).toEqual({ outcome: 'finished', record: found });
    }
  });
});

describe('decideRevive', () => {
  it('GIVEN no record THEN absent; a dead one THEN revive; any other THEN not-dead', () => {
    expect(decideRevive(undefined)).toEqual({ outcome: 'absent' });
    const dead = record('dead');
    expect(decideRevive(dead)).toEqual({ outcome: 'revive', record: dead });
    for (const state of ['queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const) {
      const found = record(state);
      expect(decideRevive(found)).toEqual({ outcome: 'not-dead', record: found });
    }
  });
});

describe('decideAcquireUnique', () => {
  it('GIVEN a live lock another run holds THEN held, unless it is the replaceHolder', () => {
    const lock = { holder: 'b', expiresAt: NOW + 5 };
    const input = { id: 'a', now: NOW };
    expect(decideAcquireUnique(lock, input)).toEqual({ outcome: 'held', holderId: 'b', expiresAt: NOW + 5 });
    expect(decideAcquireUnique(lock, { ...input, replaceHolder: 'b' })).toEqual({ outcome: 'acquire' });
    expect(decideAcquireUnique(lock, { ...input, now: NOW + 5 })).toEqual({ outcome: 'acquire' });
    expect(decideAcquireUnique(undefined, input)).toEqual({ outcome: 'acquire' });
  });
});

describe('releasedLocks', () => {
  it('GIVEN a terminal state THEN the singleton and the unique lock are released', () => {
    expect(releasedLocks('succeeded', { singletonKey: 's', uniqueKey: 'u' })).toEqual([
      { kind: 'singleton', key: 's' },
      { kind: 'unique', key: 'u' },
    ]);
  });

  it('GIVEN retrying THEN only the singleton lock; the unique lock stays until the run ends', () => {
    expect(releasedLocks('retrying', { singletonKey: 's', uniqueKey: 'u' })).toEqual([{ kind: 'singleton', key: 's' }]);
  });

  it('GIVEN no keys THEN nothing is released', () => {
    expect(releasedLocks('dead', {})).toEqual([]);
    expect(releasedLocks('cancelled', { uniqueKey: undefined })).toEqual([]);
  });
});

describe('recordBytes', () => {
  it('GIVEN a record THEN it counts each attribute as DynamoDB does: name and value, UTF-8, numbers as 21 bytes', () => {
    const small: TaskRecord = { id: 'ab', state: 'failed', attempt: 1, createdAt: NOW, updatedAt: NOW, expiresAt: NOW };
    const fields =
      'id'.length + 2 + 'state'.length + 6 + ['attempt', 'createdAt', 'updatedAt', 'expiresAt'].join('').length;
    expect(recordBytes(small)).toBe(fields + 4 * 21);
    // A map (the error): 3 bytes, and per entry its name, its value and 1 byte.
    const withError = { ...small, error: { name: 'E', message: 'é€' } };
    expect(recordBytes(withError) - recordBytes(small)).toBe('error'.length + 3 + (4 + 1 + 1) + (7 + 5 + 1));
  });

  it('GIVEN absent fields THEN they count nothing, and a result counts its UTF-8 bytes', () => {
    const base = record('succeeded');
    expect(recordBytes({ ...base, result: undefined } as unknown as TaskRecord)).toBe(recordBytes(base));
    expect(recordBytes({ ...base, result: '"€"' }) - recordBytes(base)).toBe('result'.length + 5);
  });
});

describe('recordFits', () => {
  it('GIVEN records on either side of a limit, ASCII and multi-byte THEN it agrees with recordBytes', () => {
    for (const char of ['a', '€', '😀']) {
      for (const count of [1, 1000, 100_000]) {
        const big = { ...record('succeeded'), result: JSON.stringify(char.repeat(count)) };
        const exact = recordBytes(big);
        for (const limit of [exact - 1, exact, exact + 1, exact * 3])
          expect(recordFits(big, limit)).toBe(exact <= limit);
      }
    }
  });
});

describe('releasedAttempts', () => {
  it('GIVEN a finish that gives its attempt back THEN 1 is taken off; otherwise nothing', () => {
    expect(releasedAttempts({ releaseAttempt: true })).toBe(1);
    expect(releasedAttempts({ releaseAttempt: false })).toBe(0);
    expect(releasedAttempts({})).toBe(0);
  });
});
