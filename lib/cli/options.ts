/**
 * Options shared by several commands (`--app`, `--backend`, `--db`, `--json`), what they select
 * together, and number parsing for flags.
 *
 * @module
 */

import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_EMBEDDED_PATH } from '../embedded/backend.js';
import { CliError, EXIT } from './output.js';

/** Backends the CLI can open by itself. */
export type BackendKind = 'embedded' | 'aws';

/** Flags of every command that opens a backend: the app module, a backend kind, an embedded file. */
export interface AppFlags {
  readonly app?: string;
  /** Run the app on this backend instead of the one it makes itself. */
  readonly backend?: BackendKind;
  /** The embedded SQLite file (`--db`, else `SPOOL_DB`, else the default). */
  readonly db: string;
}

/** Flags of commands that read the backend: the app's, or an embedded SQLite file. */
export type ReaderFlags = AppFlags;

/** What a command runs on, once `--app`, `--backend` and `--db` are read together. */
export interface Target {
  readonly app?: string;
  /**
   * The backend the CLI opens and hands to the app (or reads without one): `--backend`, or
   * `embedded` when `--db` is given on the command line with `--app`; `undefined` lets the app
   * make its own.
   */
  readonly backend?: BackendKind;
  /** The embedded SQLite file. */
  readonly db: string;
  /** The flag that chose the backend, for messages (`--backend aws`, `--db var/spool.db`). */
  readonly chosenBy?: string;
}

/**
 * Read `--app`, `--backend` and `--db` of `command` together. `--db` on the command line with
 * `--app` runs the app on that file (as `--backend embedded` does); from `SPOOL_DB` it does not,
 * since apps read that variable themselves.
 *
 * @throws CliError (usage) for `--db` with `--backend aws`.
 */
export function targetOf(flags: AppFlags, command: Command): Target {
  const dbGiven = command.getOptionValueSource('db') === 'cli';
  const app = flags.app === undefined || flags.app === '' ? {} : { app: flags.app };
  if (flags.backend === 'aws' && dbGiven) {
    throw new CliError(
      `--db ${flags.db} names an embedded SQLite file, and --backend aws uses SQS and DynamoDB instead. ` +
        'Drop --db to use AWS, or drop --backend aws (or pass --backend embedded) to use the file.',
      EXIT.usage,
    );
  }
  if (flags.backend !== undefined) {
    return { ...app, backend: flags.backend, db: flags.db, chosenBy: `--backend ${flags.backend}` };
  }
  if (dbGiven && app.app !== undefined) {
    return { ...app, backend: 'embedded', db: flags.db, chosenBy: `--db ${flags.db}` };
  }
  return { ...app, db: flags.db };
}

/** `--app <module>` (env `SPOOL_APP`). */
export function appOption(): Option {
  return new Option(
    '--app <module>',
    'your app module: its default export is createSpool({...}) or a function returning one',
  ).env('SPOOL_APP');
}

/**
 * `--db <path>` (env `SPOOL_DB`): the embedded SQLite file. Without `--app` the command opens it;
 * with `--app`, given on the command line, the app runs on it (see {@link targetOf}).
 */
export function dbOption(): Option {
  return new Option(
    '--db <path>',
    'the embedded SQLite file: opened when --app is not given; with --app, the app runs on it (as with --backend embedded)',
  )
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
