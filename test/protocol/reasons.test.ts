/**
 * The reasons spool gives (lib/protocol/reasons.ts) are public vocabulary: docs/protocol.md
 * lists each, with the same outcome, and nothing else.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isReason, REASONS } from '../../lib/protocol/reasons.js';

const DOC = readFileSync(resolve(import.meta.dirname, '../../docs/protocol.md'), 'utf8');

/** The rows of the reasons table in docs/protocol.md: reason → outcome. */
function documentedReasons(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of DOC.split('\n')) {
    const match = /^\| `([A-Za-z]+)`\s+\| ([a-z -]+?)\s+\|/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined && /^[A-Z]/.test(match[1])) rows.set(match[1], match[2]);
  }
  return rows;
}

describe('GIVEN the reasons spool gives', () => {
  it('THEN docs/protocol.md lists exactly them, each with its outcome', () => {
    const documented = documentedReasons();
    expect([...documented.keys()].sort()).toEqual(Object.keys(REASONS).sort());
    for (const [reason, { outcome }] of Object.entries(REASONS)) expect(documented.get(reason)).toBe(outcome);
  });

  it('WHEN a name is checked THEN only spool reasons count as reasons', () => {
    expect(isReason('LeaseExpired')).toBe(true);
    expect(isReason('TypeError')).toBe(false);
    expect(isReason('toString')).toBe(false);
  });
});
