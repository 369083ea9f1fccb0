/**
 * Cron expressions (the five-field Unix form) evaluated in an IANA time zone, with
 * **EventBridge Scheduler's daylight-saving rules**, so a schedule fires at the same instants on
 * the embedded runtime as on AWS:
 *
 * - A wall-clock time that does not exist (skipped when clocks go forward) does **not** fire.
 * - A wall-clock time that happens twice (when clocks go back) fires **once**, at its first
 *   occurrence.
 *
 * Syntax: `minute hour day-of-month month day-of-week`; each field is `*`, a number, a range
 * `a-b`, a step `*\/n` or `a-b/n`, or a comma list of those; months and weekdays also by name
 * (`JAN`, `MON`); weekday 0 and 7 are Sunday; `?` is `*` in the day fields. Restricting both the
 * day of month and the day of week is refused (EventBridge allows only one). Macros: `@hourly`,
 * `@daily` (or `@midnight`), `@weekly`, `@monthly`, `@yearly` (or `@annually`).
 *
 * @module
 */

import { ConfigurationError } from '../task/errors.js';

/** A parsed cron expression: the set of values each field allows. */
export interface CronExpression {
  /** The expression as written. */
  readonly source: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** Days of month 1–31; `undefined` when unrestricted. */
  readonly daysOfMonth: ReadonlySet<number> | undefined;
  readonly months: ReadonlySet<number>;
  /** Days of week 0–6 (Sunday = 0); `undefined` when unrestricted. */
  readonly daysOfWeek: ReadonlySet<number> | undefined;
}

const MACROS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** First value a name stands for (JAN = 1, SUN = 0). */
  readonly nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { label: 'day of week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

/** Parse a five-field cron expression; a `ConfigurationError` says what is wrong and where. */
export function parseCron(expression: string): CronExpression {
  const source = expression.trim();
  const text = MACROS[source.toLowerCase()] ?? source;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    throw new ConfigurationError(
      `cron ${JSON.stringify(expression)} has ${parts.length} field(s); expected 5: "minute hour day-of-month month day-of-week" (for example "0 2 * * *" for 02:00 every day), or a macro such as @daily.`,
    );
  }
  const [minute, hour, dom, month, dow] = parts.map((part, index) =>
    parseField(part, FIELDS[index] as FieldSpec, expression),
  ) as [
    Set<number> | undefined,
    Set<number> | undefined,
    Set<number> | undefined,
    Set<number> | undefined,
    Set<number> | undefined,
  ];
  const daysOfWeek = dow === undefined ? undefined : new Set([...dow].map((d) => d % 7));
  if (dom !== undefined && daysOfWeek !== undefined) {
    throw new ConfigurationError(
      `cron ${JSON.stringify(expression)} restricts both the day of month and the day of week; EventBridge Scheduler allows only one. Put * in one of them.`,
    );
  }
  return {
    source,
    minutes: sorted(minute, 0, 59),
    hours: sorted(hour, 0, 23),
    daysOfMonth: dom,
    months: month ?? new Set(range(1, 12)),
    daysOfWeek,
  };
}

function parseField(text: string, spec: FieldSpec, expression: string): Set<number> | undefined {
  const fail = (detail: string): never => {
    throw new ConfigurationError(
      `cron ${JSON.stringify(expression)}: the ${spec.label} field ${JSON.stringify(text)} ${detail}; allowed: ${spec.min}–${spec.max}` +
        `${spec.names === undefined ? '' : ` or ${spec.names[0]}–${spec.names[spec.names.length - 1]}`}, as *, a, a-b, */n, a-b/n or a comma list.`,
    );
  };
  const isDay = spec.label.startsWith('day');
  if (text === '*' || (isDay && text === '?')) return undefined;
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [base, stepText, extra] = item.split('/');
    if (base === undefined || base === '' || extra !== undefined) fail('is malformed');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) fail(`has step ${JSON.stringify(stepText)}`);
    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.max === 7 ? 6 : spec.max;
    } else {
      const [a, b, more] = (base as string).split('-');
      if (more !== undefined) fail('is malformed');
      from = value(a as string, spec, fail);
      to = b === undefined ? (stepText === undefined ? from : spec.max) : value(b, spec, fail);
      if (to < from) fail(`has range ${base} going backwards`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function value(text: string, spec: FieldSpec, fail: (detail: string) => never): number {
  const byName = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (byName >= 0) return byName + (spec.nameBase ?? 0);
  if (!/^\d+$/.test(text)) return fail(`has ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < spec.min || n > spec.max) fail(`has ${n}, out of range`);
  return n;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function sorted(values: ReadonlySet<number> | undefined, min: number, max: number): number[] {
  return values === undefined ? range(min, max) : [...values].sort((a, b) => a - b);
}

/** Check that `timeZone` is an IANA time zone this runtime knows; the error names the value. */
export function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new ConfigurationError(
      `time zone ${JSON.stringify(timeZone)} is not an IANA time zone name; use one such as "UTC", "Europe/Berlin" or "America/New_York".`,
    );
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time at `instant` in `timeZone`, as epoch ms of that wall time read as UTC (seconds dropped). */
function wallTime(instant: number, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const p: Record<string, number> = {};
  for (const part of format.formatToParts(instant)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0);
}

/**
 * The instant a wall-clock time (epoch ms of it read as UTC, whole minutes) happens in
 * `timeZone`: `undefined` when it does not exist (a daylight-saving gap), the earlier one when it
 * happens twice.
 */
function instantOf(wall: number, timeZone: string): number | undefined {
  const halfDay = DAY_MS / 2;
  const offsets = new Set([
    wallTime(wall - halfDay, timeZone) - (wall - halfDay - ((wall - halfDay) % 60_000)),
    wallTime(wall + halfDay, timeZone) - (wall + halfDay - ((wall + halfDay) % 60_000)),
  ]);
  let best: number | undefined;
  for (const offset of offsets) {
    const candidate = wall - offset;
    if (wallTime(candidate, timeZone) === wall && (best === undefined || candidate < best)) best = candidate;
  }
  return best;
}

const DAY_MS = 86_400_000;
/** How far {@link nextCronTime} and {@link previousCronTime} look before giving up, days (5 years). */
const SEARCH_DAYS = 1830;

/** The instants a cron expression fires on one local calendar day (`day` = epoch ms of its midnight read as UTC). */
function firesOnDay(cron: CronExpression, timeZone: string, day: number): number[] {
  const date = new Date(day);
  if (!cron.months.has(date.getUTCMonth() + 1)) return [];
  if (cron.daysOfMonth !== undefined && !cron.daysOfMonth.has(date.getUTCDate())) return [];
  if (cron.daysOfWeek !== undefined && !cron.daysOfWeek.has(date.getUTCDay())) return [];
  const out: number[] = [];
  for (const hour of cron.hours) {
    for (const minute of cron.minutes) {
      const instant = instantOf(day + hour * 3_600_000 + minute * 60_000, timeZone);
      // A time that happens twice fires once: only where the wall clock first shows it.
      if (instant !== undefined && (out.length === 0 || instant > (out[out.length - 1] as number))) out.push(instant);
    }
  }
  return out;
}

/** The first instant after `after` (epoch ms) at which `cron` fires in `timeZone`; `undefined` if none within 5 years. */
export function nextCronTime(cron: CronExpression, timeZone: string, after: number): number | undefined {
  const start = wallTime(after, timeZone);
  let day = start - (start % DAY_MS) - DAY_MS; // the day before: its late fires may come after `after`
  for (let i = 0; i < SEARCH_DAYS; i++, day += DAY_MS) {
    for (const instant of firesOnDay(cron, timeZone, day)) if (instant > after) return instant;
  }
  return undefined;
}

/** The last instant at or before `at` (epoch ms) at which `cron` fires in `timeZone`; `undefined` if none within 5 years. */
export function previousCronTime(cron: CronExpression, timeZone: string, at: number): number | undefined {
  const start = wallTime(at, timeZone);
  let day = start - (start % DAY_MS) + DAY_MS;
  for (let i = 0; i < SEARCH_DAYS; i++, day -= DAY_MS) {
    const fires = firesOnDay(cron, timeZone, day);
    for (let j = fires.length - 1; j >= 0; j--) {
      const instant = fires[j] as number;
      if (instant <= at) return instant;
    }
  }
  return undefined;
}

/**
 * The EventBridge Scheduler form of a cron expression: `cron(minutes hours day-of-month month
 * day-of-week year)`, weekdays by name, `?` in the unrestricted day field.
 */
export function toAwsCron(cron: CronExpression): string {
  const list = (values: readonly number[], full: number) => (values.length === full ? '*' : compress(values));
  const dom =
    cron.daysOfMonth === undefined
      ? cron.daysOfWeek === undefined
        ? '*'
        : '?'
      : compress([...cron.daysOfMonth].sort((a, b) => a - b));
  const dow =
    cron.daysOfWeek === undefined
      ? '?'
      : [...cron.daysOfWeek]
          .sort((a, b) => a - b)
          .map((d) => DAY_NAMES[d])
          .join(',');
  const months = [...cron.months].sort((a, b) => a - b);
  return `cron(${list(cron.minutes, 60)} ${list(cron.hours, 24)} ${dom} ${list(months, 12)} ${dow} *)`;
}

/** `[1,2,3,5]` → `1-3,5`. */
function compress(values: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    out.push(j > i + 1 ? `${values[i]}-${values[j]}` : j === i + 1 ? `${values[i]},${values[j]}` : `${values[i]}`);
    i = j + 1;
  }
  return out.join(',');
}
