/**
 * Loading app modules of every kind the CLI accepts. Node's own loader decides what a module is
 * (vitest's would not), so each case spawns `bin/spool.mjs`, the built CLI: run `npm run build`
 * first. Each fixture app imports spool from the built entry (ESM or CommonJS) by absolute path
 * and registers one task named after its kind, which `spool enqueue <kind>` then finds.
 */

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { importAppModule } from '../../lib/cli/load-module.js';
import { CliError } from '../../lib/cli/output.js';
import { ROOT, run, type Spawned, spawnCli } from './helpers.js';

const ESM_ENTRY = pathToFileURL(join(ROOT, 'dist/esm/lib/index.js')).href;
const CJS_ENTRY = join(ROOT, 'dist/cjs/lib/index.js');

/** A Standard Schema that accepts anything (the fixtures import nothing but spool). */
const ANY_SCHEMA = "{ '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } }";

/** The app's body once `createSpool` and `defineTask` are in scope: a function of `{ backend }`. */
function factory(kind: string): string {
  return (
    `(({ backend }) => createSpool({ backend, tasks: [defineTask({ name: ${JSON.stringify(kind)}, ` +
    `schema: ${ANY_SCHEMA}, handler: () => 'ran' })] }))`
  );
}

const esm = (kind: string) =>
  `import { createSpool, defineTask } from ${JSON.stringify(ESM_ENTRY)};\nexport default ${factory(kind)};\n`;
const requireSpool = `const { createSpool, defineTask } = require(${JSON.stringify(CJS_ENTRY)});\n`;

/** Fixture files: directory/name → source. `esm/` is a "type": "module" package, `cjs/` a "type": "commonjs" one. */
const FIXTURES: Readonly<Record<string, string>> = {
  'esm/package.json': JSON.stringify({ type: 'module' }),
  'cjs/package.json': JSON.stringify({ type: 'commonjs' }),
  'esm/app.mjs': esm('kind.mjs'),
  'esm/app.js': esm('kind.esm-js'),
  'esm/app.cjs': `${requireSpool}module.exports = ${factory('kind.cjs')};\n`,
  'cjs/module-exports.js': `${requireSpool}module.exports = ${factory('kind.cjs-module-exports')};\n`,
  'cjs/exports-default.js':
    `${requireSpool}Object.defineProperty(exports, '__esModule', { value: true });\n` +
    `exports.default = ${factory('kind.cjs-exports-default')};\n`,
  'cjs/exports-spool.js': `${requireSpool}exports.spool = ${factory('kind.cjs-exports-spool')};\n`,
  'esm/app.ts':
    `import { createSpool, defineTask } from ${JSON.stringify(ESM_ENTRY)};\n` +
    'interface Options { readonly backend?: unknown }\n' +
    `const make = ${factory('kind.ts')} as (options: Options) => unknown;\nexport default make;\n`,
  'esm/app.mts':
    `import { createSpool, defineTask } from ${JSON.stringify(ESM_ENTRY)};\n` +
    `const kind: string = 'kind.mts';\nexport default ${factory('kind.mts').replace('"kind.mts"', 'kind')};\n`,
  'esm/app.cts':
    `import spool = require(${JSON.stringify(CJS_ENTRY)});\nconst { createSpool, defineTask } = spool;\n` +
    `type Made = ReturnType<typeof createSpool>;\nexport default ${factory('kind.cts')} as (o: object) => Made;\n`,
  'cjs/esm-syntax.js': esm('kind.wrong'),
  'esm/app.json': '{}\n',
};

let dir = '';
const children: Spawned[] = [];
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/esm/lib/cli/bin.js')) || !existsSync(CJS_ENTRY)) {
    throw new Error('these tests run the built CLI and import the built package: run `npm run build` first');
  }
  dir = mkdtempSync(join(tmpdir(), 'spool-load-'));
  for (const [path, source] of Object.entries(FIXTURES)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
});
afterEach(async () => {
  for (const spawned of children.splice(0)) {
    if (spawned.child.exitCode === null && spawned.child.signalCode === null) {
      spawned.child.kill('SIGKILL');
      await spawned.exited();
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `spool enqueue <task> --app <module> --db <a fresh file> --json`, in the module's directory. */
async function enqueueWith(module: string, task: string) {
  const db = join(dir, `${module.replaceAll('/', '-')}.db`);
  const cwd = join(dir, module, '..');
  const cli = spawnCli(['enqueue', task, '--app', join(dir, module), '--db', db, '--json'], {}, { cwd });
  children.push(cli);
  const code = await cli.exited(30_000);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

describe('app modules of every kind (bin/spool.mjs)', () => {
  it.each([
    ['esm/app.mjs', 'kind.mjs'],
    ['esm/app.js', 'kind.esm-js'],
    ['esm/app.cjs', 'kind.cjs'],
    ['cjs/module-exports.js', 'kind.cjs-module-exports'],
    ['cjs/exports-default.js', 'kind.cjs-exports-default'],
    ['cjs/exports-spool.js', 'kind.cjs-exports-spool'],
    ['esm/app.ts', 'kind.ts'],
    ['esm/app.mts', 'kind.mts'],
    ['esm/app.cts', 'kind.cts'],
  ])(
    'GIVEN %s WHEN spool enqueue --app it THEN its function is called with the backend and its task found',
    async (module, task) => {
      const out = await enqueueWith(module, task);
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ task, existing: false });
    },
  );

  it('GIVEN ESM syntax in a .js file of a "type": "commonjs" package WHEN spool enqueue --app it THEN it says it loads as CommonJS and what to change, exit 2', async () => {
    const out = await enqueueWith('cjs/esm-syntax.js', 'kind.wrong');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(
      `spool: app module ${join(dir, 'cjs/esm-syntax.js')}: importing it failed: SyntaxError:`,
    );
    expect(out.stderr).toContain(
      `loads as CommonJS: ${join(dir, 'cjs/package.json')} has no "type": "module". If it uses import or export, add ` +
        '"type": "module" to that package.json, or name the file .mjs.)',
    );
  });
});

describe('importAppModule', () => {
  it('GIVEN a module with an extension spool does not load WHEN imported THEN it is a usage error listing the extensions', async () => {
    const path = join(dir, 'esm/app.json');
    const caught = await importAppModule(path, dir).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(caught).toBeInstanceOf(CliError);
    expect(caught).toMatchObject({
      exitCode: 2,
      message:
        `app module ${path}: spool loads modules ending in .js, .mjs, .cjs, .ts, .mts, .cts, not ".json". ` +
        'Pass the path of your app module, e.g. --app src/app.ts.',
    });
  });

  it('GIVEN --app naming a .json file WHEN enqueue THEN the CLI reports that usage error, exit 2', async () => {
    const out = await run(['enqueue', 'greet', '--app', join(dir, 'esm/app.json')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('spool loads modules ending in .js, .mjs, .cjs, .ts, .mts, .cts, not ".json"');
  });

  // Node strips types by itself from 22.18 (process.features.typescript is then a string); Node 20
  // cannot load TypeScript without tsx, so there is no type stripping to give a hint about.
  it.skipIf(typeof (process.features as { typescript?: unknown }).typescript !== 'string')(
    "GIVEN Node's type stripping (no tsx) and a .ts module importing './tasks.js' WHEN imported THEN the error says to install tsx or import .ts",
    async () => {
      // load-module.js and output.js, copied where no tsx can be resolved from, with commander beside them.
      const spool = join(dir, 'no-tsx');
      mkdirSync(join(spool, 'cli'), { recursive: true });
      mkdirSync(join(spool, 'node_modules'), { recursive: true });
      for (const file of ['load-module.js', 'output.js']) {
        cpSync(join(ROOT, 'dist/esm/lib/cli', file), join(spool, 'cli', file));
      }
      writeFileSync(join(spool, 'package.json'), JSON.stringify({ type: 'module' }));
      symlinkSync(join(ROOT, 'node_modules/commander'), join(spool, 'node_modules/commander'), 'dir');
      const app = join(dir, 'strip');
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(join(app, 'tasks.ts'), 'export const answer: number = 42;\n');
      writeFileSync(join(app, 'app.ts'), "import { answer } from './tasks.js';\nexport default answer;\n");
      const loader = pathToFileURL(join(spool, 'cli/load-module.js')).href;
      const script =
        `import(${JSON.stringify(loader)}).then((m) => m.importAppModule(${JSON.stringify(join(app, 'app.ts'))}, ` +
        `${JSON.stringify(app)})).then(() => process.exit(0), (e) => { process.stderr.write(e.message); process.exit(1); });`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
      expect(child.status).toBe(1);
      expect(child.stderr).toContain(
        `(${join(app, 'app.ts')} imports ${join(app, 'tasks.js')}, which is TypeScript. Node's type stripping loads ` +
          'only imports that name the .ts file: install tsx in your project',
      );
    },
  );
});
