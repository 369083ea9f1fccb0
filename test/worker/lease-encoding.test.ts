import { describe, expect, it } from 'vitest';
import { decodeLease, encodeLease, type KeptLease } from '../../lib/worker/lease-keeper.js';

/** The lease as the keeper's thread sees it: fields given as `undefined` read as absent. */
function defined(lease: KeptLease): Record<string, unknown> {
  return Object.fromEntries(Object.entries(lease).filter(([, value]) => value !== undefined));
}

const until = Date.now() + 60_000;

describe('the lease keeper slot encoding', () => {
  it.each<[string, KeptLease]>([
    [
      'every field',
      {
        id: 'a1',
        owner: 'w:1:2',
        leaseSeconds: 30,
        until,
        deadline: until - 5,
        receiptHandle: '1.1.9',
        singletonKey: 'k',
      },
    ],
    [
      'no optional field',
      {
        id: 'a1',
        owner: 'w:1:2',
        leaseSeconds: 2,
        until,
        singletonKey: undefined,
        deadline: undefined,
        receiptHandle: undefined,
      },
    ],
    [
      'a singleton key with line breaks',
      { id: 'a1', owner: 'w', leaseSeconds: 30, until, singletonKey: 'line\none\n' },
    ],
    ['an empty singleton key', { id: 'a1', owner: 'w', leaseSeconds: 30, until, singletonKey: '' }],
    ['an empty receipt handle', { id: 'a1', owner: 'w', leaseSeconds: 30, until, receiptHandle: '' }],
    ['an owner with a line break', { id: 'a1', owner: 'w\n2', leaseSeconds: 30, until }],
    ['non-ASCII strings', { id: 'ü', owner: 'wörker', leaseSeconds: 30, until, singletonKey: '鍵' }],
  ])('GIVEN a lease with %s WHEN encoded and decoded THEN it reads back the same', (_, lease) => {
    const decoded = decodeLease(encodeLease(lease));
    expect(decoded === undefined ? undefined : defined(decoded)).toEqual(defined(lease));
  });

  it.each([
    '',
    'L',
    'L\na\nb\n30',
    'J{',
    'Lx\na\nb\n30\n1\n\n\n',
    'L\na\nb\nthirty\n1\n\n\n',
    'L\na\nb\n30\n1\n\n\n\nextra',
  ])('GIVEN %j, which is no lease WHEN decoded THEN it is undefined', (text) => {
    expect(decodeLease(text)).toBeUndefined();
  });
});
