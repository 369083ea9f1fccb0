/**
 * The CLI's input/output: where it writes, its exit codes, its errors, and the small formatters
 * (tables, key/value blocks, JSON, times) every command uses. How an error is reported, and the
 * exit code it maps to, is `report.ts`'s (this module imports nothing of spool's, so that
 * `load-module.ts` and it load on their own).
 *
 * @module
 */

/** A stream the CLI writes to (`process.stdout`, or a collecting stream in tests). */
export type OutStream = NodeJS.WritableStream & { readonly isTTY?: boolean };

/** A stream the CLI reads from (`process.stdin`, or a readable of fixed text in tests). */
export type InStream = NodeJS.ReadableStream & { readonly isTTY?: boolean };

/** Where SIGINT and SIGTERM come from (`process`, or an `EventEmitter` in tests). */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/** What the CLI talks to; `main` fills in `process`'s for anything left out. */
export interface CliIo {
  /** Read only when a command is told to (`spool enqueue <task> -`). */
  readonly stdin: InStream;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  /** Paths given to `--app` and `--db` are resolved against this. */
  readonly cwd: string;
  readonly signals: SignalSource;
}

/** What a command gets: the I/O, and a way to set the process's exit code. */
export interface CliContext extends CliIo {
  /** Record the exit code of the command that ran (see {@link EXIT}). */
  exit(code: number): void;
}

/** Exit codes, as `spool --help` lists them. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The thing asked about failed or was not found (a failed run, an absent record). */
  failed: 1,
  /** Usage or validation error: bad flags, bad JSON, invalid arguments, missing configuration. */
  usage: 2,
  /** The backend was unreachable, or an unexpected error. */
  backend: 3,
} as const;

/** An error the CLI reports as `spool: <message>` with a chosen exit code. */
export class CliError extends Error {
  override name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: number,
    options: { readonly cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * Characters that would act on a terminal rather than show: C0 controls but tab and line feed,
 * DEL, C1 controls (U+009B is a CSI on its own), and the bidirectional overrides and isolates
 * (text that reads one way and runs another).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` safe to write to a terminal: every character of {@link UNPRINTABLE} (escape sequences,
 * carriage returns, bidi overrides) shown as its `\u{…}` escape. Records, errors and dead letters
 * hold text from handlers and from anyone who may send to the queue: it goes through here before
 * it is shown (JSON output escapes it on its own).
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/** Write one line (through {@link printable}). */
export function line(stream: OutStream, text = ''): void {
  stream.write(`${printable(text)}\n`);
}

/** What JSON leaves raw of {@link UNPRINTABLE} (it escapes C0 controls itself). */
const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Write a value as JSON (pretty, 2 spaces) followed by a newline; DEL, C1 controls and bidi
 * controls are written as `\uXXXX` escapes (the same JSON, safe on a terminal).
 */
export function printJson(stream: OutStream, value: unknown): void {
  const text = JSON.stringify(value, null, 2).replace(
    UNPRINTABLE_IN_JSON,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  stream.write(`${text}\n`);
}

/**
 * Columns aligned with two spaces between; the last column is not padded (it may be long). Cells
 * go through {@link printable}, line breaks included (one line per row).
 */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((row) => row.map((cell) => printable(cell).replaceAll('\n', '\\n')));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].map((r) => `${r}\n`).join('');
}

/**
 * `key  value` lines with keys aligned; multi-line values are indented under their key. Values go
 * through {@link printable}.
 */
export function keyValues(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown
    .map(
      ([k, v]) =>
        `${k.padEnd(width)}  ${printable(v)
          .split('\n')
          .join(`\n${' '.repeat(width + 2)}`)}\n`,
    )
    .join('');
}

/** An epoch-ms time as ISO 8601, or `undefined`. */
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** Cut text to `max` characters, marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Parse stored JSON text for display; text that is not JSON is returned as is. */
export function parseStored(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
