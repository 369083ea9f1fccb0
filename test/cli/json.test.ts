import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, parseJsonArgument } from '../../lib/cli/json.js';
import { CliError } from '../../lib/cli/output.js';

describe('JSON arguments', () => {
  it.each([
    ['{"a":1}', undefined],
    [' [1, -2.5e3, "x\\u00e9\\n", true, false, null, {}] ', undefined],
    ['{"a":}', 5],
    ['{a:1}', 1],
    ['', 0],
    ['[1,2', 4],
    ['{"a":1} x', 8],
    ['"tab\there"', 4],
    ['01', 1],
    ['{"a":1,}', 7],
  ])('GIVEN %j WHEN looking for the error THEN the offset is %s', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
    if (offset === undefined) expect(() => JSON.parse(text)).not.toThrow();
    else expect(() => JSON.parse(text)).toThrow();
  });

  it('GIVEN bad JSON on line 2 WHEN parsed THEN the usage error names line, column and points at it', () => {
    let caught: unknown;
    try {
      parseJsonArgument(
        '{\n  "a": tru\n}',
        'arguments',
        "Quote the whole JSON for your shell, e.g. spool enqueue t '{}'",
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect(caught).toMatchObject({ exitCode: 2 });
    expect((caught as Error).message).toBe(
      'arguments: not valid JSON: unexpected "\\n" at position 12 (line 2, column 11):\n' +
        '    "a": tru\n' +
        '            ^\n' +
        "Quote the whole JSON for your shell, e.g. spool enqueue t '{}'",
    );
  });
});
