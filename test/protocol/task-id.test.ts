/** Task ids the library makes: derived ones are stable hashes, fresh ones are UUIDv7s in creation order. */

import { describe, expect, it, vi } from 'vitest';
import { canonicalJson, deriveTaskId, randomTaskId } from '../../lib/protocol/canonical.js';

describe('task ids', () => {
  it('GIVEN the same task and key THEN the derived id is the same 32 hex digits', () => {
    expect(deriveTaskId('charge', 'order-1')).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveTaskId('charge', 'order-1')).toBe(deriveTaskId('charge', 'order-1'));
    expect(deriveTaskId('charge', 'order-1')).not.toBe(deriveTaskId('charge', 'order-2'));
  });

  it('GIVEN many fresh ids THEN each is a UUIDv7 (time, version 7, variant 10) and they strictly increase', () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => randomTaskId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const [index, id] of ids.entries()) {
      expect(id).toMatch(/^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      if (index > 0) expect(id > (ids[index - 1] as string)).toBe(true);
    }
    const first = Number.parseInt((ids[0] as string).slice(0, 12), 16);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now() + 5);
  });

  it('GIVEN more than 4096 ids in one millisecond, or a clock that goes back, THEN ids still increase', () => {
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 60_000);
    try {
      const sameMs = Array.from({ length: 5000 }, () => randomTaskId());
      clock.mockReturnValue(Date.now() - 60_000);
      const afterSetBack = randomTaskId();
      for (let index = 1; index < sameMs.length; index++) {
        expect((sameMs[index] as string) > (sameMs[index - 1] as string)).toBe(true);
      }
      expect(afterSetBack > (sameMs.at(-1) as string)).toBe(true);
    } finally {
      clock.mockRestore();
    }
  });
});

describe('canonical JSON', () => {
  it('GIVEN arguments with an own __proto__ key (as JSON.parse makes) WHEN canonicalised THEN the key is kept, so they differ from the same arguments without it', () => {
    const withProto = JSON.parse('{"amount":1,"__proto__":{"admin":true}}') as unknown;
    const without = { amount: 1 };
    expect(canonicalJson(withProto, 't')).toBe('{"__proto__":{"admin":true},"amount":1}');
    expect(canonicalJson(withProto, 't')).not.toBe(canonicalJson(without, 't'));
    expect(JSON.parse(canonicalJson(withProto, 't'))).toEqual(withProto);
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });
});
