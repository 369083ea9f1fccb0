/**
 * Options shared by several commands (`--app`, `--db`, `--json`, `--limit`) and number parsing
 * for flags.
 *
 * @module
 */

import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_EMBEDDED_PATH } from '../embedded/backend.js';

/** Backends the CLI can open by itself. */
export type BackendKind = 'embedded' | 'aws';

/** Flags of commands that need the app (its tasks). */
export interface AppFlags {
  readonly app?: string;
  /** Run the app on this backend instead of the one it makes itself. */
  readonly backend?: BackendKind;
}

/** Flags of commands that read the backend: the app's, or an embedded SQLite file. */
export interface ReaderFlags extends AppFlags {
  readonly db: string;
}

/** `--app <module>` (env `SPOOL_APP`). */
export function appOption(): Option {
  return new Option(
    '--app <module>',
    'your app module: its default export is createSpool({...}) or a function returning one',
  ).env('SPOOL_APP');
}

/** `--db <path>` (env `SPOOL_DB`), used when `--app` is not given. */
export function dbOption(): Option {
  return new Option('--db <path>', 'embedded SQLite file to read when --app is not given')
    .env('SPOOL_DB')
    .default(DEFAULT_EMBEDDED_PATH);
}

/**
 * `--backend <embedded|aws>` (env `SPOOL_BACKEND`): `aws` reads SPOOL_QUEUE_URL, SPOOL_DLQ_URL,
 * SPOOL_TABLE, AWS_REGION (and AWS_ENDPOINT_URL for a local endpoint).
 */
export function backendOption(): Option {
  return new Option(
    '--backend <kind>',
    "run on this backend instead of the app's own: aws (from SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE, AWS_REGION) or embedded (--db)",
  )
    .choices(['embedded', 'aws'])
    .env('SPOOL_BACKEND');
}

/** `--json`. */
export function jsonOption(): Option {
  return new Option('--json', 'print JSON instead of a table');
}

/**
 * A commander argument parser for an integer in `[min, max]`; a bad value becomes commander's
 * usage error (exit 2) naming the flag, the value and what is allowed.
 */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
      throw new InvalidArgumentError(`allowed: ${range}.`);
    }
    return n;
  };
}
