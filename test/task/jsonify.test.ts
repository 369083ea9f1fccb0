/**
 * `Jsonify<T>`: the type of what `JSON.parse(JSON.stringify(value))` gives. Checked by `tsc`
 * (`npm run typecheck` includes test/); each case also runs the round trip, so the type is
 * compared with what JSON really does.
 */

import type { Jsonify } from 'spool-tasks';
import { describe, expect, expectTypeOf, it } from 'vitest';

const roundTrip = <T>(value: T): Jsonify<T> => JSON.parse(JSON.stringify(value) ?? 'null') as Jsonify<T>;

describe('Jsonify', () => {
  it('GIVEN a Date WHEN jsonified THEN it is typed and arrives as its ISO string', () => {
    const at = new Date();
    expectTypeOf<Jsonify<Date>>().toEqualTypeOf<string>();
    expectTypeOf<Jsonify<{ at: Date }>>().toEqualTypeOf<{ at: string }>();
    expect(roundTrip({ at })).toEqual({ at: at.toISOString() });
  });

  it('GIVEN JSON primitives and literals WHEN jsonified THEN they are unchanged', () => {
    expectTypeOf<Jsonify<string>>().toEqualTypeOf<string>();
    expectTypeOf<Jsonify<number>>().toEqualTypeOf<number>();
    expectTypeOf<Jsonify<boolean>>().toEqualTypeOf<boolean>();
    expectTypeOf<Jsonify<null>>().toEqualTypeOf<null>();
    expectTypeOf<Jsonify<'a' | 1 | true>>().toEqualTypeOf<'a' | 1 | true>();
    expect(roundTrip({ s: 'a', n: 1, b: true, z: null })).toEqual({ s: 'a', n: 1, b: true, z: null });
  });

  it('GIVEN properties that may be undefined WHEN jsonified THEN they are optional, and dropped when undefined', () => {
    type In = { a: string | undefined; b?: number; c: string };
    expectTypeOf<Jsonify<In>>().toEqualTypeOf<{ a?: string; b?: number; c: string }>();
    const out = roundTrip<In>({ a: undefined, c: 'x' });
    expect(out).toEqual({ c: 'x' });
    expect('a' in out).toBe(false);
  });

  it('GIVEN function, symbol and undefined-only properties and symbol keys WHEN jsonified THEN they are gone', () => {
    const key = Symbol('k');
    type In = { keep: number; f: () => void; s: symbol; u: undefined; [key]: string };
    expectTypeOf<Jsonify<In>>().toEqualTypeOf<{ keep: number }>();
    expect(roundTrip<In>({ keep: 1, f: () => {}, s: Symbol('x'), u: undefined, [key]: 'y' })).toEqual({ keep: 1 });
  });

  it('GIVEN a class instance WHEN jsonified THEN only its data properties remain, as a plain (mutable) object', () => {
    class Money {
      constructor(
        readonly amount: number,
        readonly currency: string,
      ) {}
      format(): string {
        return `${this.amount} ${this.currency}`;
      }
    }
    expectTypeOf<Jsonify<Money>>().toEqualTypeOf<{ amount: number; currency: string }>();
    expect(roundTrip(new Money(5, 'EUR'))).toEqual({ amount: 5, currency: 'EUR' });
  });

  it('GIVEN arrays and tuples with undefined, functions and Dates WHEN jsonified THEN those elements become null or strings', () => {
    expectTypeOf<Jsonify<(string | undefined)[]>>().toEqualTypeOf<(string | null)[]>();
    expectTypeOf<Jsonify<readonly Date[]>>().toEqualTypeOf<string[]>();
    expectTypeOf<Jsonify<[Date, undefined, () => void, number]>>().toEqualTypeOf<[string, null, null, number]>();
    expect(roundTrip<[Date, undefined, () => void, number]>([new Date(0), undefined, () => {}, 1])).toEqual([
      '1970-01-01T00:00:00.000Z',
      null,
      null,
      1,
    ]);
  });

  it('GIVEN Map, Set and RegExp WHEN jsonified THEN they are empty objects', () => {
    expectTypeOf<Jsonify<Map<string, number>>>().toEqualTypeOf<Record<string, never>>();
    expectTypeOf<Jsonify<{ tags: Set<string>; re: RegExp }>>().toEqualTypeOf<{
      tags: Record<string, never>;
      re: Record<string, never>;
    }>();
    expect(roundTrip({ tags: new Set(['a']), m: new Map([['k', 1]]), re: /x/ })).toEqual({ tags: {}, m: {}, re: {} });
  });

  it('GIVEN a toJSON method WHEN jsonified THEN the type is what toJSON returns, itself jsonified', () => {
    type Custom = { secret: string; toJSON(): { at: Date; kind: 'custom' } };
    expectTypeOf<Jsonify<Custom>>().toEqualTypeOf<{ at: string; kind: 'custom' }>();
    const value: Custom = { secret: 's', toJSON: () => ({ at: new Date(0), kind: 'custom' }) };
    expect(roundTrip(value)).toEqual({ at: '1970-01-01T00:00:00.000Z', kind: 'custom' });
  });

  it('GIVEN a top-level undefined, void or function WHEN jsonified THEN it is undefined (no result)', () => {
    expectTypeOf<Jsonify<undefined>>().toEqualTypeOf<undefined>();
    expectTypeOf<Jsonify<void>>().toEqualTypeOf<undefined>();
    expectTypeOf<Jsonify<() => number>>().toEqualTypeOf<undefined>();
    expectTypeOf<Jsonify<string | undefined>>().toEqualTypeOf<string | undefined>();
    expect(JSON.stringify(() => 1)).toBeUndefined();
  });

  it('GIVEN a bigint WHEN jsonified THEN it is never (JSON has no bigint)', () => {
    expectTypeOf<Jsonify<bigint>>().toBeNever();
    expectTypeOf<Jsonify<{ n: bigint }>>().toEqualTypeOf<{ n: never }>();
    expect(() => JSON.stringify({ n: 1n })).toThrow(TypeError);
  });

  it('GIVEN nested objects, records and unions WHEN jsonified THEN each level is converted', () => {
    type In = { order: { id: string; placedAt: Date; lines: { sku: string; note?: string | undefined }[] } };
    expectTypeOf<Jsonify<In>>().toEqualTypeOf<{
      order: { id: string; placedAt: string; lines: { sku: string; note?: string }[] };
    }>();
    expectTypeOf<Jsonify<Record<string, Date>>>().toEqualTypeOf<{ [k: string]: string }>();
    expectTypeOf<Jsonify<{ kind: 'a'; at: Date } | { kind: 'b' }>>().toEqualTypeOf<
      { kind: 'a'; at: string } | { kind: 'b' }
    >();
  });

  it('GIVEN unknown or any WHEN jsonified THEN they stay unknown or any', () => {
    expectTypeOf<Jsonify<unknown>>().toBeUnknown();
    // biome-ignore lint/suspicious/noExplicitAny: the case under test.
    expectTypeOf<Jsonify<any>>().toBeAny();
    expectTypeOf<Jsonify<unknown[]>>().toEqualTypeOf<unknown[]>();
  });
});
