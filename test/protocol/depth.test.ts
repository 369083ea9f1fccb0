/**
 * The depth rule of JSON values (MAX_JSON_DEPTH): the producer's canonical JSON and the worker's
 * envelope decoder refuse the same arguments with the same explanation, and no walk over user data
 * runs out of stack, however deep the value.
 */

import { EnqueueError } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  exceedsJsonDepth,
  NESTED_TOO_DEEP,
  pathBeyondDepth,
  tooDeepArgumentsReason,
} from '../../lib/protocol/canonical.js';
import { decodeEnvelope } from '../../lib/protocol/envelope.js';
import { MAX_JSON_DEPTH } from '../../lib/protocol/limits.js';

/** `1` inside `depth` arrays, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const nestedJson = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const body = (argsJson: string) => `{"spool":1,"id":"deep-1","task":"deep.task","args":${argsJson}}`;

/** What `canonicalJson` throws for `value`. */
function refusal(value: unknown): EnqueueError {
  try {
    canonicalJson(value, 'deep.task');
  } catch (error) {
    return error as EnqueueError;
  }
  throw new Error('canonicalJson accepted the value');
}

describe('GIVEN canonicalJson', () => {
  it(`WHEN the arguments nest exactly ${MAX_JSON_DEPTH} deep THEN they are accepted, keys sorted`, () => {
    expect(canonicalJson(nested(MAX_JSON_DEPTH), 'deep.task')).toBe(nestedJson(MAX_JSON_DEPTH));
    expect(canonicalJson({ b: 1, a: { d: [1, undefined], c: new Date(0) } }, 't')).toBe(
      '{"a":{"c":"1970-01-01T00:00:00.000Z","d":[1,null]},"b":1}',
    );
  });

  it.each([MAX_JSON_DEPTH + 1, 10_000, 1_000_000])(
    'WHEN the arguments nest %i deep THEN EnqueueError ARGUMENTS_NOT_JSON names the path and the limit (no RangeError)',
    (depth) => {
      const error = refusal(nested(depth));
      expect(error).toBeInstanceOf(EnqueueError);
      expect(error.code).toBe('ARGUMENTS_NOT_JSON');
      expect(error.message).toMatch(/^Arguments of task 'deep\.task' are nested too deep: \$\[0\]\[0\]/);
      expect(error.message).toContain(NESTED_TOO_DEEP);
      expect(error.message).toMatch(/Nothing was enqueued\. Flatten the structure/);
    },
  );

  it('WHEN the arguments hold a cycle THEN EnqueueError names it (not a stack overflow)', () => {
    const order: Record<string, unknown> = { id: 1 };
    order.items = [{ order }];
    expect(refusal(order).message).toMatch(/\$\.items\[0\]\.order is a circular reference to \$/);
  });

  it('WHEN the same object appears twice without a cycle THEN it is accepted', () => {
    const shared = { n: 1 };
    expect(canonicalJson({ a: shared, b: [shared] }, 't')).toBe('{"a":{"n":1},"b":[{"n":1}]}');
  });

  it('WHEN a toJSON throws THEN EnqueueError names the path; WHEN one returns an object with a toJSON of its own THEN that one is not called, as JSON.stringify does', () => {
    const throwing = {
      toJSON() {
        throw new Error('no');
      },
    };
    expect(refusal({ x: throwing }).message).toMatch(/\$\.x is an object whose toJSON\(\) threw \(Error: no\)/);
    // Applied again and again, this toJSON would never end.
    class Endless {
      toJSON(): Endless {
        return new Endless();
      }
    }
    expect(canonicalJson({ x: new Endless() }, 't')).toBe(JSON.stringify({ x: new Endless() }));
  });

  it('WHEN the arguments hold a bigint THEN the message is as before', () => {
    expect(refusal({ n: 10n }).message).toMatch(/\$\.n is bigint/);
  });
});

describe('GIVEN exceedsJsonDepth and pathBeyondDepth', () => {
  it('WHEN brackets sit inside strings (escaped quotes too) THEN they do not count', () => {
    const text = JSON.stringify({ s: `"[[[[${'['.repeat(600)}\\"{{{` });
    expect(exceedsJsonDepth(text, 1)).toBe(false);
    expect(exceedsJsonDepth('[[1]]', 1)).toBe(true);
    expect(exceedsJsonDepth('[[1]]', 2)).toBe(false);
  });

  it('WHEN a text is too short to nest that deep THEN the answer needs no scan', () => {
    expect(exceedsJsonDepth('['.repeat(MAX_JSON_DEPTH * 2))).toBe(false);
    expect(exceedsJsonDepth(nestedJson(MAX_JSON_DEPTH + 1))).toBe(true);
  });

  it('WHEN a parsed value nests a million deep THEN the path of the first level too deep comes back, without recursion', () => {
    const value: unknown = JSON.parse(`{"a":${nestedJson(1_000_000)}}`);
    expect(pathBeyondDepth(value, 3)).toBe('$.a[0][0]');
    expect(pathBeyondDepth({ a: [1, { b: 2 }] }, 3)).toBeUndefined();
  });
});

describe('GIVEN decodeEnvelope', () => {
  it(`WHEN args nest ${MAX_JSON_DEPTH} deep THEN the envelope decodes`, () => {
    expect(decodeEnvelope(body(nestedJson(MAX_JSON_DEPTH))).ok).toBe(true);
  });

  it.each([MAX_JSON_DEPTH + 1, 10_000])(
    'WHEN args nest %i deep THEN it is malformed with the producer explanation, and the id and task are known',
    (depth) => {
      const decoded = decodeEnvelope(body(nestedJson(depth)));
      const producer = refusal(nested(depth)).message;
      expect(decoded).toEqual({
        ok: false,
        reason: tooDeepArgumentsReason(`$${'[0]'.repeat(MAX_JSON_DEPTH)}`),
        id: 'deep-1',
        task: 'deep.task',
      });
      if (!decoded.ok) {
        expect(decoded.reason).toContain(NESTED_TOO_DEEP);
        expect(producer).toContain(NESTED_TOO_DEEP);
      }
    },
  );

  it('WHEN another field, or the whole body, nests 100,000 deep THEN it is malformed, and decoding does not throw', () => {
    const deepField = decodeEnvelope(`{"spool":${nestedJson(100_000)},"id":"a","task":"b","args":{}}`);
    expect(deepField).toMatchObject({ ok: false, id: 'a', task: 'b' });
    expect(!deepField.ok && deepField.reason).toMatch(/^message body is nested too deep: \$\.spool\[0\]/);
    const deepBody = decodeEnvelope(nestedJson(100_000));
    expect(deepBody.ok).toBe(false);
  });
});
