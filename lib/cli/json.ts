/**
 * Parsing JSON given on the command line, with an error that points at the offending character
 * (the position V8 reports depends on the Node version, so it is found here).
 *
 * @module
 */

import { CliError, EXIT } from './output.js';

/**
 * Parse `text` as JSON; a syntax error becomes a usage error (exit 2) with its position and a
 * caret, then `fix`: a sentence saying how to pass valid JSON from where this text came from.
 */
export function parseJsonArgument(text: string, what: string, fix: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const offset = jsonErrorOffset(text);
    const found = offset === undefined ? undefined : text.charAt(offset);
    const reason =
      found === undefined
        ? error instanceof Error
          ? error.message
          : String(error)
        : found === ''
          ? 'unexpected end of input'
          : `unexpected ${JSON.stringify(found)}`;
    const where = offset === undefined ? '' : ` at position ${offset}${pointAt(text, offset)}`;
    throw new CliError(`${what}: not valid JSON: ${reason}${where}\n${fix}`, EXIT.usage);
  }
}

/** ` (line L, column C):` then the line and a caret under the offset (at most 60 characters of it). */
function pointAt(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const lineNo = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', offset) === -1 ? text.length : text.indexOf('\n', offset);
  const column = offset - lineStart;
  const from = Math.max(lineStart, offset - 40);
  const shown = text.slice(from, Math.min(lineEnd, from + 60));
  return ` (line ${lineNo}, column ${column + 1}):\n  ${shown}\n  ${' '.repeat(offset - from)}^`;
}

class Stop {
  constructor(readonly offset: number) {}
}

/** Offset of the first character where `text` stops being JSON; `undefined` when it is valid. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const at = () => text.charAt(i);
  const fail = (): never => {
    throw new Stop(i);
  };
  const space = () => {
    while (at() === ' ' || at() === '\t' || at() === '\n' || at() === '\r') i++;
  };
  const word = (w: string) => {
    for (const ch of w) {
      if (at() !== ch) fail();
      i++;
    }
  };
  const string = () => {
    i++;
    for (;;) {
      const c = at();
      if (c === '' || c < ' ') fail();
      i++;
      if (c === '"') return;
      if (c === '\\') {
        const e = at();
        if (e === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) if (!/^[0-9a-fA-F]$/.test(at())) fail();
        } else if (e !== '' && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      }
    }
  };
  const sequence = (close: string, item: () => void) => {
    i++;
    space();
    if (at() === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (at() === ',') i++;
      else if (at() === close) {
        i++;
        return;
      } else fail();
    }
  };
  const value = (): void => {
    space();
    const c = at();
    if (c === '{') {
      sequence('}', () => {
        space();
        if (at() !== '"') fail();
        string();
        space();
        if (at() !== ':') fail();
        i++;
        value();
      });
    } else if (c === '[') sequence(']', value);
    else if (c === '"') string();
    else if (c === 't') word('true');
    else if (c === 'f') word('false');
    else if (c === 'n') word('null');
    else {
      const number = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
      if (number === null) fail();
      else i += number[0].length;
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof Stop) return error.offset;
    throw error;
  }
}
