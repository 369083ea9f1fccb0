/**
 * What a run's record keeps of an error: `toErrorInfo` never throws, whatever a handler threw, and
 * every message fits a record (cut to MAX_ERROR_MESSAGE_BYTES, never inside a character, with a
 * note of its size and the limit).
 */

import { describe, expect, it } from 'vitest';
import { MAX_ERROR_MESSAGE_BYTES, MAX_ERROR_NAME_LENGTH } from '../../lib/protocol/limits.js';
import { boundErrorInfo, NonRetriableError, toErrorInfo } from '../../lib/task/errors.js';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

describe('GIVEN toErrorInfo', () => {
  it('WHEN an Error is thrown THEN its name and message are kept as they are', () => {
    expect(toErrorInfo(new NonRetriableError('card declined'))).toEqual({
      name: 'NonRetriableError',
      message: 'card declined',
    });
    expect(toErrorInfo('plain text')).toEqual({ name: 'NonErrorThrown', message: 'plain text' });
    expect(toErrorInfo({ code: 7 })).toEqual({ name: 'NonErrorThrown', message: '{"code":7}' });
  });

  it('WHEN the thrown value is hostile (throwing getters, no prototype, a cycle, a deep array) THEN it still gives a record', () => {
    const getters = new Error('x');
    Object.defineProperty(getters, 'message', {
      get() {
        throw new Error('getter throws');
      },
    });
    const bare = Object.assign(Object.create(null) as object, {
      toJSON() {
        throw new Error('no JSON');
      },
    });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const odd = Object.assign(new Error(), { name: 42, message: { why: 'object' } });
    for (const thrown of [getters, bare, cycle, deep, odd, undefined, Symbol('s')]) {
      const info = toErrorInfo(thrown);
      expect(typeof info.name).toBe('string');
      expect(typeof info.message).toBe('string');
    }
    expect(toErrorInfo(odd)).toEqual({ name: 'Error', message: '{"why":"object"}' });
  });

  it('WHEN a message is 500 KB THEN it is cut to the limit, ending with its size and the limit', () => {
    const info = toErrorInfo(new Error('m'.repeat(500_000)));
    expect(bytes(info.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(info.message).toMatch(
      /^m+ \.\.\. \[cut: the message is 500000 bytes; spool stores error messages up to 8192 bytes \(MAX_ERROR_MESSAGE_BYTES\)\]$/,
    );
    // Cut once: a cut message fits, and is not cut again.
    expect(boundErrorInfo(info)).toBe(info);
  });

  it('WHEN a long message is made of multi-byte characters THEN the cut never splits one', () => {
    for (const char of ['€', '😀', 'é']) {
      const info = boundErrorInfo({ name: 'Error', message: char.repeat(20_000) });
      expect(bytes(info.message)).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
      expect(info.message).not.toContain('\uFFFD');
      expect(info.message.split(' ... [cut')[0]).toMatch(new RegExp(`^(${char})+$`, 'u'));
    }
  });

  it('WHEN a name is very long THEN it is cut to MAX_ERROR_NAME_LENGTH characters', () => {
    const info = toErrorInfo(Object.assign(new Error('m'), { name: 'N'.repeat(10_000) }));
    expect(info.name).toHaveLength(MAX_ERROR_NAME_LENGTH);
  });
});
