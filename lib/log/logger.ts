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

/** Create a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env['SPOOL_LOG_LEVEL'];
  const level: LogLevel = options.level ?? (isLevel(envLevel) ? envLevel : 'info');
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const format = options.format ?? 'json';
  return build({}, ORDER[level], format, write);
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} });

function isLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in ORDER;
}

function build(bound: LogFields, min: number, format: 'json' | 'pretty', write: (line: string) => void): Logger {
  const emit = (level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const all = { ...bound, ...fields };
    write(format === 'json' ? jsonLine(level, message, all) : prettyLine(level, message, all));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => build({ ...bound, ...fields }, min, format, write),
  };
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
