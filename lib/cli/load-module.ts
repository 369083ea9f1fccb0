/**
 * Importing the user's app module from the command line, whatever its kind: `.js`, `.mjs` and
 * `.cjs` as Node loads them, in ESM and CommonJS packages alike; `.ts`, `.mts` and `.cts` through
 * tsx when the project has it installed, else through Node's own type stripping where this Node
 * has it, else with an error that says what to do.
 *
 * tsx comes first because it resolves what TypeScript's NodeNext resolution does (`./tasks.js`
 * naming `./tasks.ts`); Node's type stripping needs `./tasks.ts` written out.
 *
 * @module
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError, EXIT } from './output.js';

/** Extensions of TypeScript modules. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
/** Extensions the CLI loads. */
export const APP_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;

/** How TypeScript gets loaded in this process, once decided. */
let typescriptLoader: Promise<'tsx' | 'node'> | undefined;

/** tsx's loader (`node --import tsx`), resolved from `cwd` or from spool itself; undefined if absent. */
function findTsx(cwd: string): string | undefined {
  for (const from of [join(cwd, 'package.json'), import.meta.url]) {
    try {
      return createRequire(from).resolve('tsx');
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/** Whether this Node strips TypeScript types by itself (on by default from Node 22.18 and 23.6). */
function nodeStripsTypes(): boolean {
  const features = process.features as { readonly typescript?: unknown };
  return typeof features.typescript === 'string';
}

/** Make `import()` of TypeScript work in this process, or say why it cannot. */
function loadTypescript(path: string, cwd: string): Promise<'tsx' | 'node'> {
  typescriptLoader ??= (async () => {
    const tsx = findTsx(cwd);
    if (tsx !== undefined) {
      // tsx's main entry registers its ESM and CommonJS hooks, as `node --import tsx` does.
      await import(pathToFileURL(tsx).href);
      return 'tsx';
    }
    if (nodeStripsTypes()) return 'node';
    throw new CliError(
      `app module ${path} is TypeScript, and Node ${process.version} cannot load TypeScript by itself (Node 22.18 and ` +
        'later strip types on their own). Either install tsx in your project (npm install --save-dev tsx), run ' +
        'spool on Node 22.18 or later, or compile your app and pass the .js file to --app.',
      EXIT.usage,
    );
  })();
  const loading = typescriptLoader;
  loading.catch(() => {
    if (typescriptLoader === loading) typescriptLoader = undefined;
  });
  return loading;
}

/**
 * Import the module at the absolute `path` and return its exports. A CommonJS module's
 * `module.exports` is unwrapped, so `exports.default = …` (TypeScript compiled to CommonJS),
 * `module.exports = …` and `exports.spool = …` all read as they would from ESM.
 *
 * @throws CliError (usage) for an extension spool does not load, or TypeScript this process cannot load.
 */
export async function importAppModule(path: string, cwd: string): Promise<Record<string, unknown>> {
  const extension = extname(path);
  if (!(APP_EXTENSIONS as readonly string[]).includes(extension)) {
    throw new CliError(
      `app module ${path}: spool loads modules ending in ${APP_EXTENSIONS.join(', ')}, not ${JSON.stringify(extension)}. ` +
        'Pass the path of your app module, e.g. --app src/app.ts.',
      EXIT.usage,
    );
  }
  let loader: 'tsx' | 'node' | undefined;
  if (TYPESCRIPT.has(extension)) loader = await loadTypescript(path, cwd);
  try {
    return unwrapCommonJs((await import(pathToFileURL(path).href)) as Record<string, unknown>);
  } catch (error) {
    throw withHint(error, path, loader);
  }
}

/**
 * The exports of a module as ESM would see them, also when it is CommonJS. `import()` of CommonJS
 * gives `module.exports` as `default`: when that holds the exports themselves (TypeScript compiled
 * to CommonJS sets `__esModule` and `exports.default`; or `exports.spool = …`), read those.
 */
function unwrapCommonJs(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner) || isSpoolLike(inner)) return namespace;
  const exports = inner as Record<string, unknown>;
  return exports.__esModule === true || 'default' in exports || 'spool' in exports ? { ...exports } : namespace;
}

/** A loose check that `value` looks like a Spool (the real check is the caller's). */
function isSpoolLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'enqueue' in value && 'worker' in value;
}

/** A loading error with what to do about it, where there is something to say. */
function withHint(error: unknown, path: string, loader: 'tsx' | 'node' | undefined): unknown {
  if (!(error instanceof Error)) return error;
  const hint =
    error instanceof SyntaxError
      ? syntaxHint(path, loader)
      : 'code' in error
        ? hintFor(String(error.code), error.message, path, loader)
        : undefined;
  if (hint === undefined) return error;
  error.message = `${error.message} ${hint}`;
  return error;
}

/**
 * A syntax error in a module Node loaded as CommonJS is most often ESM syntax (`import`,
 * `export`) in a package without `"type": "module"`. TypeScript through tsx is compiled to
 * whichever kind it loads as, so this applies to JavaScript only.
 */
function syntaxHint(path: string, loader: 'tsx' | 'node' | undefined): string | undefined {
  if (loader !== undefined) return undefined;
  const kind = commonJsBecause(path);
  if (kind === undefined) return undefined;
  return (
    `(${path} loads as CommonJS: ${kind}. If it uses import or export, add "type": "module" to that ` +
    'package.json, or name the file .mjs.)'
  );
}

/** Why Node loads the JavaScript file at `path` as CommonJS, or `undefined` when it loads it as ESM. */
function commonJsBecause(path: string): string | undefined {
  const extension = extname(path);
  if (extension === '.cjs') return 'its name ends in .cjs';
  if (extension !== '.js') return undefined;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(manifest, 'utf8')) as { readonly type?: unknown }).type;
      } catch {
        return undefined;
      }
      return type === 'module' ? undefined : `${manifest} has no "type": "module"`;
    }
    if (dirname(dir) === dir) return 'no package.json above it says "type": "module"';
  }
}

function hintFor(code: string, message: string, path: string, loader: 'tsx' | 'node' | undefined): string | undefined {
  if (code === 'ERR_MODULE_NOT_FOUND' && loader === 'node') {
    const missing = /Cannot find module '([^']+\.js)'/.exec(message)?.[1];
    if (missing !== undefined && existsSync(missing.replace(/\.js$/, '.ts'))) {
      return (
        `(${path} imports ${missing}, which is TypeScript. Node's type stripping loads only imports that name ` +
        'the .ts file: install tsx in your project (npm install --save-dev tsx), which resolves .js to .ts as tsc does, ' +
        'or import with .ts extensions and "rewriteRelativeImportExtensions": true in tsconfig.json.)'
      );
    }
  }
  if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_REQUIRE_ASYNC_MODULE') {
    return (
      '(A CommonJS module required an ES module. Your package.json has no "type": "module", so .js and .ts files ' +
      'load as CommonJS: add "type": "module" to package.json, or name the app module .mts.)'
    );
  }
  return undefined;
}
