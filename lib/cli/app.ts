/**
 * Loading the user's app module (`--app`), and opening a backend to read from: the app's, or an
 * embedded SQLite file (`--db`).
 *
 * @module
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { Spool } from '../client/spool.js';
import { importAwsModules } from '../peers.js';
import { hasErrorCode } from '../task/errors.js';
import { importAppModule } from './load-module.js';
import type { BackendKind, Target } from './options.js';
import { CliError, EXIT } from './output.js';

const EXPECTED = 'export default createSpool({...}) or export default () => createSpool({...})';
const FACTORY = 'export default ({ backend }) => createSpool({ backend: backend ?? yourDefault, tasks })';

/**
 * Import the app module `target.app` (relative to `cwd`) and return its spool: the default export
 * (or a named export `spool`), either a `Spool` or a function, sync or async, returning one. When
 * `target.backend` is set, the CLI opens that backend and passes it to the function as
 * `{ backend }`; the function must build its spool on it.
 */
export async function loadApp(target: Target, cwd: string): Promise<Spool> {
  const module = target.app;
  if (module === undefined || module === '') {
    throw new CliError(
      'this command needs your app: pass --app <module> (or set SPOOL_APP), the path of a module with ' +
        `${EXPECTED}.`,
      EXIT.usage,
    );
  }
  const path = resolve(cwd, module);
  if (!existsSync(path)) {
    throw new CliError(
      `app module not found: ${path} (from --app ${JSON.stringify(module)}, relative to ${cwd}). ` +
        'Pass the path of your app module, e.g. --app src/spool.ts, or set SPOOL_APP.',
      EXIT.usage,
    );
  }
  let exports: Record<string, unknown>;
  try {
    exports = await importAppModule(path, cwd);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw loadFailure(path, 'importing it', error);
  }
  const candidate = exports.default ?? exports.spool;
  const chosenBy = target.chosenBy ?? `--backend ${target.backend}`;
  if (isSpool(candidate)) {
    if (target.backend === undefined) return candidate;
    await candidate.close();
    throw new CliError(
      `app module ${path} exports a ready-made Spool, so ${chosenBy} cannot apply. ` +
        `Export a function that takes the backend instead: ${FACTORY}.`,
      EXIT.usage,
    );
  }
  if (typeof candidate === 'function') {
    // Opened outside the try below: a configuration mistake here is the flags', not the module's.
    const backend = target.backend === undefined ? undefined : await openBackend(target.backend, target.db, cwd);
    let made: unknown;
    try {
      made = await (candidate as (options: { backend?: Backend }) => unknown)(backend === undefined ? {} : { backend });
    } catch (error) {
      await backend?.close();
      throw loadFailure(path, 'calling its exported function', error);
    }
    if (!isSpool(made)) {
      await backend?.close();
      throw new CliError(
        `app module ${path}: its exported function returned ${describe(made)}, not a Spool. Expected ${EXPECTED}.`,
        EXIT.usage,
      );
    }
    if (backend !== undefined && made.backend !== backend) {
      const own = describeBackend(made.backend);
      await Promise.all([made.close(), backend.close()]);
      throw new CliError(
        `app module ${path}: ${chosenBy} asked for ${describeBackend(backend)}, but its exported function ` +
          `ignored the backend it was passed and made its own (${own}). Build the spool on the backend passed in: ` +
          `${FACTORY}.`,
        EXIT.usage,
      );
    }
    return made;
  }
  const found = Object.keys(exports).map((name) => `${name} (${describe(exports[name])})`);
  throw new CliError(
    `app module ${path} has no spool export: found ${found.length === 0 ? 'no exports' : found.join(', ')}. ` +
      `Expected ${EXPECTED} (a named export 'spool' works too).`,
    EXIT.usage,
  );
}

/** A backend opened for reading, with a description for output and a way to close it. */
export interface Reader {
  readonly backend: Backend;
  /** E.g. `embedded SQLite /abs/.spool/spool.db (queue spool)`. */
  readonly description: string;
  close(): Promise<void>;
}

/**
 * Open the backend to read: the app's when `target.app` is given, else the embedded SQLite file at
 * `target.db` (which must exist: reading never creates one), or AWS with `--backend aws`.
 */
export async function openReader(target: Target, cwd: string): Promise<Reader> {
  if (target.app !== undefined) {
    const spool = await loadApp(target, cwd);
    return { backend: spool.backend, description: describeBackend(spool.backend), close: () => spool.close() };
  }
  if (target.backend === 'aws') {
    const backend = await openBackend('aws', undefined, cwd);
    return { backend, description: describeBackend(backend), close: async () => backend.close() };
  }
  const path = resolve(cwd, target.db);
  if (!existsSync(path)) {
    throw new CliError(
      `no spool database at ${path}. Pass --db <path> (or set SPOOL_DB) to read the embedded SQLite file your ` +
        'app uses, or --app <module> (or set SPOOL_APP) to read through your app’s backend.',
      EXIT.usage,
    );
  }
  const backend = await openEmbedded(path);
  return {
    backend,
    description: describeBackend(backend),
    close: async () => backend.close(),
  };
}

/**
 * Open a backend by kind: `aws` from the environment (SPOOL_QUEUE_URL, SPOOL_DLQ_URL, SPOOL_TABLE,
 * AWS_REGION, AWS_ENDPOINT_URL), `embedded` on the SQLite file `db` (default `.spool/spool.db`).
 */
export async function openBackend(kind: BackendKind, db: string | undefined, cwd: string): Promise<Backend> {
  try {
    if (kind === 'aws') {
      // Loaded only when asked for: the embedded path never loads the AWS SDK.
      const { backend } = await importAwsModules();
      return backend.openAwsBackend();
    }
    return await openEmbedded(db === undefined ? undefined : resolve(cwd, db));
  } catch (error) {
    if (hasErrorCode(error, 'INVALID_CONFIGURATION')) {
      throw new CliError(`--backend ${kind}: ${error.message}`, EXIT.usage, { cause: error });
    }
    throw error;
  }
}

/** SQLite's and the file system's codes for a file that is there but is not a database. */
const NOT_A_DATABASE = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);
/** Codes for a file (or its directory) that cannot be opened, read or written. */
const CANNOT_OPEN = new Set([
  'SQLITE_CANTOPEN',
  'SQLITE_PERM',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'EEXIST',
  'EROFS',
]);

/**
 * Open the embedded backend on `path` (default `.spool/spool.db`), loading it only now. A file
 * that is not a SQLite database, or one that cannot be opened, is a usage error naming the path.
 */
async function openEmbedded(path: string | undefined): Promise<Backend> {
  const { DEFAULT_EMBEDDED_PATH, openEmbeddedBackend } = await import('../embedded/backend.js');
  try {
    return openEmbeddedBackend(path === undefined ? {} : { path });
  } catch (error) {
    throw embeddedOpenFailure(resolve(path ?? DEFAULT_EMBEDDED_PATH), error) ?? error;
  }
}

/** The usage error for an embedded database file spool cannot use, or `undefined` for other errors. */
function embeddedOpenFailure(path: string, error: unknown): CliError | undefined {
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  const said = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  if (NOT_A_DATABASE.has(code)) {
    return new CliError(
      `${path} is not a spool database: SQLite says "${said}" (${code}). Point --db (or SPOOL_DB) at the SQLite ` +
        'file your app uses, or at a path where there is no file yet (dev, worker and enqueue create it there).',
      EXIT.usage,
      options,
    );
  }
  if (CANNOT_OPEN.has(code)) {
    return new CliError(
      `cannot open the spool database ${path}: ${said} (${code}). It must be a file you may read and write, in a ` +
        'directory you may write (SQLite keeps -wal and -shm files beside it). Fix its permissions, or point --db ' +
        '(or SPOOL_DB) at another path.',
      EXIT.usage,
      options,
    );
  }
  return undefined;
}

/** Say which backend this is: the embedded file's path when there is one, and the queue's name. */
export function describeBackend(backend: Backend): string {
  const queue = backend.transport.tasks.name;
  const path: unknown = 'path' in backend ? backend.path : undefined;
  if (typeof path === 'string') return `embedded SQLite ${path} (queue ${queue})`;
  const config: unknown = 'config' in backend ? backend.config : undefined;
  if (typeof config === 'object' && config !== null && 'tableName' in config) {
    return `AWS SQS ${queue} + DynamoDB ${String(config.tableName)}`;
  }
  return `queue ${queue}`;
}

function isSpool(value: unknown): value is Spool {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof Spool, unknown>>;
  return (
    typeof v.backend === 'object' &&
    v.backend !== null &&
    v.tasks instanceof Map &&
    typeof v.enqueue === 'function' &&
    typeof v.worker === 'function' &&
    typeof v.close === 'function'
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object that is not a Spool';
  return typeof value;
}

function loadFailure(path: string, doing: string, error: unknown): Error {
  if (!(error instanceof Error)) return new CliError(`app module ${path}: ${doing} threw ${String(error)}`, EXIT.usage);
  // A broken module or a configuration mistake is the user's to fix (2); anything else, such as an
  // unreachable backend, keeps its own meaning (3). `importAppModule` has added its hints already.
  const code = 'code' in error ? String(error.code) : '';
  const database = NOT_A_DATABASE.has(code) || (code.startsWith('SQLITE_') && CANNOT_OPEN.has(code));
  const usage =
    hasErrorCode(error, 'INVALID_CONFIGURATION') ||
    error instanceof SyntaxError ||
    code.startsWith('ERR_REQUIRE') ||
    database;
  const hint = database
    ? ' The app opened an embedded database it cannot use: check SPOOL_DB, and the path it passes to ' +
      'openEmbeddedBackend({ path }).'
    : '';
  return new CliError(
    `app module ${path}: ${doing} failed: ${error.name}: ${error.message}${hint}`,
    usage ? EXIT.usage : EXIT.backend,
    { cause: error },
  );
}
