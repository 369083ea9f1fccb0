/**
 * Structured logging. Every line a worker writes about a run carries `taskId`, `task` and
 * `attempt`. The default writes JSON lines (CloudWatch-friendly); `format: 'pretty'` writes one
 * readable line for `spool dev`. Bring your own (Powertools Logger, pino) by implementing {@link Logger}.
 *
 * @module
 */

import { styleText } from 'node:util';

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** What spool logs through. Pino, Powertools' Logger and console-like objects fit with a thin wrapper. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /**
   * Lowest level written.
   * @default process.env.SPOOL_LOG_LEVEL, else 'info'
   */
  readonly level?: LogLevel;
  /**
   * `json`: one JSON object per line. `pretty`: time, level, message, then key=value fields.
   * @default 'json'
   */
  readonly format?: 'json' | 'pretty';
  /**
   * Where lines go.
   * @default process.stderr.write
   */
  readonly write?: (line: string) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Create a logger. At level `silent` it is a no-op whose `child()` returns itself. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env.SPOOL_LOG_LEVEL;
  const level: LogLevel = options.level ?? (isLevel(envLevel) ? envLevel : 'info');
  if (level === 'silent') return SILENT;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const format = options.format ?? 'json';
  return new FieldLogger({ min: ORDER[level], format, write }, undefined, undefined);
}

/** Writes nothing, allocates nothing: `child()` returns the same logger. */
class SilentLogger implements Logger {
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(): void {}
  child(): Logger {
    return this;
  }
}

const SILENT: Logger = new SilentLogger();

/** A logger that writes nothing. */
export const silentLogger: Logger = SILENT;

function isLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in ORDER;
}

interface Sink {
  readonly min: number;
  readonly format: 'json' | 'pretty';
  readonly write: (line: string) => void;
}

/**
 * A logger with bound fields. A child keeps a link to its parent and its own fields; the fields
 * are merged (root first, then each child, then the line's own) only when a line is written, so a
 * child costs one small object and a disabled level costs one comparison.
 */
class FieldLogger implements Logger {
  readonly #sink: Sink;
  readonly #parent: FieldLogger | undefined;
  readonly #fields: LogFields | undefined;

  constructor(sink: Sink, parent: FieldLogger | undefined, fields: LogFields | undefined) {
    this.#sink = sink;
    this.#parent = parent;
    this.#fields = fields;
  }

  debug(message: string, fields?: LogFields): void {
    if (ORDER.debug >= this.#sink.min) this.#emit('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    if (ORDER.info >= this.#sink.min) this.#emit('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    if (ORDER.warn >= this.#sink.min) this.#emit('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    if (ORDER.error >= this.#sink.min) this.#emit('error', message, fields);
  }

  child(fields: LogFields): Logger {
    return new FieldLogger(this.#sink, this, fields);
  }

  /** The bound fields, root first (a later child's value wins, as with nested spreads). */
  #bound(): LogFields {
    const parent = this.#parent === undefined ? {} : this.#parent.#bound();
    return this.#fields === undefined ? parent : { ...parent, ...this.#fields };
  }

  #emit(level: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields | undefined): void {
    const all = { ...this.#bound(), ...fields };
    const { format, write } = this.#sink;
    write(format === 'json' ? jsonLine(level, message, all) : prettyLine(level, message, all));
  }
}

function jsonLine(level: string, message: string, fields: LogFields): string {
  return `${JSON.stringify({ time: new Date().toISOString(), level, message, ...serialisable(fields) })}\n`;
}

const COLOURS = { debug: 'gray', info: 'cyan', warn: 'yellow', error: 'red' } as const;

function prettyLine(level: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const rest = Object.entries(serialisable(fields))
    .map(([k, v]) => `${styleText('gray', `${k}=`)}${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${styleText('gray', time)} ${styleText(COLOURS[level], level.padEnd(5))} ${message}${rest ? ` ${rest}` : ''}\n`;
}

function serialisable(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}
