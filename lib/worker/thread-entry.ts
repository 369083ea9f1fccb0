/**
 * Starting spool's own thread and process entry modules (the lease keeper, pool members) beside
 * the module that starts them, from built JavaScript (dist/esm, dist/cjs) or from the TypeScript
 * sources (lib/, run through tsx or vitest). From the sources, tsx loads them: in a worker thread
 * through its `tsImport` API (Node 20's `--import` hooks do not reach worker threads), in a child
 * process through `--import tsx`.
 *
 * @module
 */

import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigurationError } from '../task/errors.js';

/** Whether the module at `url` is TypeScript (`.ts`, `.mts`, `.cts`), ignoring its query. */
export function isTypeScript(url: string): boolean {
  return /\.[cm]?ts$/.test(new URL(url).pathname);
}

/**
 * The entry module `name` beside `from` (an `import.meta.url`): `name.ts` from the sources,
 * `name.js` from a build.
 */
export function siblingEntry(name: string, from: string): URL {
  return new URL(`./${name}${isTypeScript(from) ? '.ts' : '.js'}`, from);
}

/**
 * The `file:` URL of the ESM form of tsx's module `specifier` (`tsx`, `tsx/esm/api`), resolved from
 * each of `near` in turn (an app module's URL) and then from spool itself; `undefined` when none
 * has it. Read from tsx's `exports` (a `require` resolution would give the CommonJS form, which
 * does not load in a worker thread).
 */
export function findTsx(specifier: 'tsx' | 'tsx/esm/api', near: readonly string[] = []): string | undefined {
  for (const from of [...near, import.meta.url]) {
    try {
      const manifest = createRequire(from).resolve('tsx/package.json');
      const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, unknown> };
      const entry = exports[specifier === 'tsx' ? '.' : './esm/api'];
      const target = typeof entry === 'string' ? entry : importTarget(entry);
      if (target !== undefined) return new URL(target, pathToFileURL(manifest)).href;
    } catch {
      // not installed there: try the next place
    }
  }
  return undefined;
}

/** The `import` → `default` target of a conditional export. */
function importTarget(entry: unknown): string | undefined {
  const imported = (entry as { import?: unknown } | undefined)?.import;
  if (typeof imported === 'string') return imported;
  const target = (imported as { default?: unknown } | undefined)?.default;
  return typeof target === 'string' ? target : undefined;
}

function tsxOrThrow(specifier: 'tsx' | 'tsx/esm/api', entry: URL): string {
  const found = findTsx(specifier);
  if (found === undefined) {
    throw new ConfigurationError(
      `spool runs from its TypeScript sources (${fileURLToPath(entry)}), and loading that file in a thread or process needs tsx, which is not installed. ` +
        'Install it (npm install --save-dev tsx), or use the built package (dist/).',
    );
  }
  return found;
}

/** Start a worker thread on `entry` with `workerData`. */
export function startThread(entry: URL, workerData: unknown): Worker {
  if (!isTypeScript(entry.href)) return new Worker(entry, { workerData });
  const api = tsxOrThrow('tsx/esm/api', entry);
  const code = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`;
  return new Worker(code, { eval: true, workerData });
}

/** Whether this process already loads TypeScript through tsx (`--import tsx`). */
function hasTsx(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => arg.includes('tsx'));
}

/**
 * Fork a child process on `entry` with an IPC channel in structured-clone (`advanced`)
 * serialisation. `typescript` says whether it must load TypeScript (its entry, or a module it
 * imports): then it gets tsx's loader unless this process already has one.
 */
export function forkProcess(entry: URL, typescript: boolean): ChildProcess {
  const needsTsx = (typescript || isTypeScript(entry.href)) && !hasTsx(process.execArgv);
  const execArgv = needsTsx ? [...process.execArgv, '--import', tsxOrThrow('tsx', entry)] : [...process.execArgv];
  return fork(fileURLToPath(entry), [], {
    execArgv,
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
