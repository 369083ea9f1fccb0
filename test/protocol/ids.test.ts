/**
 * Ids, names and limits written once (lib/protocol/ids.ts, lib/protocol/limits.ts): each pattern
 * accepts exactly the alphabet its message quotes, the patterns accept what the regexes they
 * replaced accepted, and timer names, delayed deduplication ids and fire ids are what they were.
 */

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SPOOL_LAYOUT } from '../../lib/aws/layout.js';
import {
  delayedDeduplicationId,
  FIFO_ID_ALPHABET,
  FIFO_ID_PATTERN,
  lockName,
  SCHEDULE_NAME_ALPHABET,
  SCHEDULE_NAME_FORMAT,
  SCHEDULE_NAME_PATTERN,
  SCHEDULER_NAME_ALPHABET,
  SCHEDULER_NAME_FORMAT,
  SCHEDULER_NAME_PATTERN,
  TASK_ID_ALPHABET,
  TASK_ID_FORMAT,
  TASK_ID_PATTERN,
  TASK_NAME_ALPHABET,
  TASK_NAME_FORMAT,
  TASK_NAME_PATTERN,
  timerName,
} from '../../lib/protocol/ids.js';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAX_RECEIVE_COUNT,
  DEFAULT_RETENTION_MS,
  DEFAULT_RETENTION_SECONDS,
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  MAX_ENQUEUE_DELAY_MS,
  MAX_RETRY_DELAY_MS,
  MAX_VISIBILITY_SECONDS,
} from '../../lib/protocol/limits.js';
import { fireGroup, fireId } from '../../lib/schedule/fire.js';
import { TASK_DEFAULTS } from '../../lib/task/contract.js';

/** Every ASCII character, control characters and DEL included. */
const ASCII = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code));

/** The characters a bracketed class as messages write it stands for (`a-z` ranges, other characters as they are). */
function readAlphabet(alphabet: string): Set<string> {
  expect(alphabet.startsWith('[') && alphabet.endsWith(']')).toBe(true);
  const body = alphabet.slice(1, -1);
  const chars = new Set<string>();
  for (let i = 0; i < body.length; i++) {
    const from = body[i] as string;
    if (body[i + 1] === '-' && i + 2 < body.length) {
      for (let c = from.charCodeAt(0); c <= body.charCodeAt(i + 2); c++) chars.add(String.fromCharCode(c));
      i += 2;
    } else {
      chars.add(from);
    }
  }
  return chars;
}

/** The single characters `pattern` accepts as a whole string. */
const accepted = (pattern: RegExp) => new Set(ASCII.filter((c) => pattern.test(c)));

describe('ids and names', () => {
  it('GIVEN each id or name pattern THEN it accepts exactly the characters its message quotes, and its message names the length', () => {
    expect(accepted(TASK_ID_PATTERN)).toEqual(readAlphabet(TASK_ID_ALPHABET));
    expect(accepted(TASK_NAME_PATTERN)).toEqual(readAlphabet(TASK_NAME_ALPHABET));
    expect(accepted(SCHEDULER_NAME_PATTERN)).toEqual(readAlphabet(SCHEDULER_NAME_ALPHABET));
    // A schedule name's first character is a letter or digit; the rest may also be '_' or '-'.
    expect(new Set(ASCII.filter((c) => SCHEDULE_NAME_PATTERN.test(`a${c}`)))).toEqual(
      readAlphabet(SCHEDULE_NAME_ALPHABET),
    );
    expect(accepted(SCHEDULE_NAME_PATTERN)).toEqual(readAlphabet('[A-Za-z0-9]'));
    // FIFO ids: printable ASCII without the space.
    expect(accepted(FIFO_ID_PATTERN)).toEqual(new Set(ASCII.filter((c) => c > ' ' && c < '\x7f')));
    expect(FIFO_ID_ALPHABET).toBe('[\\x21-\\x7e]');

    expect(TASK_ID_FORMAT).toBe('1–128 characters of [A-Za-z0-9_.:-]');
    expect(TASK_NAME_FORMAT).toBe('1–200 characters of [A-Za-z0-9_.:/-]');
    expect(SCHEDULE_NAME_FORMAT).toBe('1–64 characters of [A-Za-z0-9_-], starting with a letter or digit');
    expect(SCHEDULER_NAME_FORMAT).toBe('1–64 characters of [0-9A-Za-z_.-]');
  });

  it('GIVEN ids and names of many lengths and characters THEN each pattern agrees with the regex it replaced', () => {
    const replaced: [RegExp, RegExp][] = [
      [TASK_ID_PATTERN, /^[A-Za-z0-9_.:-]{1,128}$/],
      [TASK_NAME_PATTERN, /^[A-Za-z0-9_.:/-]{1,200}$/],
      [SCHEDULE_NAME_PATTERN, /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/],
      [SCHEDULER_NAME_PATTERN, /^[0-9A-Za-z_.-]{1,64}$/],
      [FIFO_ID_PATTERN, /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/],
    ];
    const samples = [
      '',
      ...ASCII,
      ...ASCII.map((c) => `a${c}`),
      ...[63, 64, 65, 127, 128, 129, 199, 200, 201].map((n) => 'a'.repeat(n)),
      'orders.charge',
      'sched:nightly:2026-11-22T02:00:00.000Z',
      'a b',
      'é',
    ];
    for (const [now, before] of replaced) {
      for (const sample of samples)
        expect([now.source, sample, now.test(sample)]).toEqual([now.source, sample, before.test(sample)]);
    }
  });

  it('GIVEN task ids THEN timerName gives the names it gave before (ids that do not fit are hashed)', () => {
    const before = (id: string) =>
      /^[0-9A-Za-z_.-]{1,58}$/.test(id)
        ? `delay.${id}`
        : `delay.${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
    const ids = [
      '0f3c2a9e4b7d1c8e5a6f0b2d4c6e8a1b',
      'order-1001-charge',
      'a.b_c-d',
      'x'.repeat(58),
      'x'.repeat(59),
      'x'.repeat(128),
      'sched:nightly:2026-11-22T02:00:00.000Z',
    ];
    for (const id of ids) expect(timerName(id)).toBe(before(id));
    expect(timerName('x'.repeat(58))).toBe(`delay.${'x'.repeat(58)}`);
    expect(timerName('x'.repeat(59))).toBe('delay.6e20a1199bf58ddb8fadbe63725f1dd9de844015');
    expect(timerName('sched:nightly:2026-11-22T02:00:00.000Z')).toBe('delay.c98addc482c9498c509ee14291e1bff9a2b5da8f');
    for (const id of ids) expect(timerName(id)).toMatch(SCHEDULER_NAME_PATTERN);
  });

  it('GIVEN a delayed run THEN its deduplication id is <id>@<notBefore>, hashed when longer than 128', () => {
    expect(delayedDeduplicationId('order-1', 1_790_000_000_000)).toBe('order-1@1790000000000');
    const long = 'x'.repeat(120);
    expect(delayedDeduplicationId(long, 1_790_000_000_000)).toBe(
      createHash('sha256').update(`${long}@1790000000000`).digest('hex'),
    );
  });

  it('GIVEN a schedule and a time THEN the fire id, its group and lock names are as before', () => {
    const at = Math.floor(Date.now() / 60_000) * 60_000;
    const iso = new Date(at).toISOString();
    expect(fireId('beat', at)).toBe(`sched:beat:${iso}`);
    expect(fireId('beat', at, true)).toBe(`sched:beat:manual:${iso}`);
    expect(fireGroup('beat')).toBe('sched:beat');
    expect(lockName('unique', 'orders.charge:o-1')).toBe('unique#orders.charge:o-1');
    expect(lockName('singleton', 'k')).toBe('singleton#k');
  });
});

describe('limits and defaults', () => {
  it('GIVEN the limits THEN the derived ones have the values they replaced, and lease and visibility share one default', () => {
    expect(MAX_VISIBILITY_SECONDS).toBe(43_200);
    expect(MAX_RETRY_DELAY_MS).toBe(43_200_000);
    expect(MAX_ENQUEUE_DELAY_MS).toBe(31_536_000_000);
    expect(DEFAULT_RETENTION_SECONDS).toBe(604_800);
    expect(DEFAULT_RETENTION_MS).toBe(604_800_000);
    expect(DEFAULT_VISIBILITY_TIMEOUT_SECONDS).toBe(DEFAULT_LEASE_SECONDS);
    expect(TASK_DEFAULTS).toEqual({ leaseSeconds: DEFAULT_LEASE_SECONDS, resultTtlSeconds: DEFAULT_RETENTION_SECONDS });
    expect(SPOOL_LAYOUT.queue.visibilityTimeoutSeconds).toBe(DEFAULT_VISIBILITY_TIMEOUT_SECONDS);
    expect(SPOOL_LAYOUT.queue.maxReceiveCount).toBe(DEFAULT_MAX_RECEIVE_COUNT);
    expect(SPOOL_LAYOUT.deadLetterQueue.retentionSeconds).toBe(1_209_600);
  });
});
