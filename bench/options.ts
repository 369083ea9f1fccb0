/**
 * Command-line options of the benchmark scripts: strict parsing, `--help`, and whole-number
 * counts, with an exit code 2 and the usage on a bad value.
 *
 * @module
 */

import { type ParseArgsConfig, parseArgs } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Print `message` and the usage to stderr, and exit with code 2. */
export function failUsage(usage: string, message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

/**
 * Parse `process.argv` with `options` (plus `--help`, which prints `usage` and exits 0). `count`
 * reads an option's text as a whole number ≥ 1, or exits 2 saying what was wrong.
 */
export function benchOptions(
  usage: string,
  options: OptionsConfig,
): { values: Readonly<Record<string, unknown>>; count: (name: string, text: unknown) => number } {
  const { values } = parseArgs({
    options: { ...options, help: { type: 'boolean', default: false } },
    strict: true,
  }) as { values: Record<string, unknown> };
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const count = (name: string, text: unknown): number => {
    const n = Number(text);
    return Number.isInteger(n) && n >= 1
      ? n
      : failUsage(usage, `--${name} must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  };
  return { values, count };
}
