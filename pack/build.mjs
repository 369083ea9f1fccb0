#!/usr/bin/env node
// `npm run build`: the package's dist/. tsc compiles lib/ and the constructs of infra/ to ESM with
// declarations (dist/esm); esbuild then turns each ESM file into CommonJS (dist/cjs), file for
// file, beside a copy of its declarations. Each half has a package.json naming its module type,
// so Node and TypeScript read dist/cjs/**/*.js and *.d.ts as CommonJS.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const esm = join(dist, 'esm');
const cjs = join(dist, 'cjs');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
writeFileSync(join(esm, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);

/** Every file under `dir`, as paths relative to it. */
function walk(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path, base) : [relative(base, path)];
  });
}

// `import.meta.url` has no CommonJS form: each file gets its own, from __filename.
const banner = 'const __spool_import_meta_url = require("node:url").pathToFileURL(__filename).href;';
let files = 0;
for (const file of walk(esm)) {
  const target = join(cjs, file);
  mkdirSync(dirname(target), { recursive: true });
  if (file.endsWith('.d.ts') || file.endsWith('.d.ts.map')) {
    cpSync(join(esm, file), target);
  } else if (file.endsWith('.js')) {
    const source = readFileSync(join(esm, file), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
    const uses = source.includes('import.meta.url');
    const { code } = transformSync(source, {
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      ...(uses ? { banner, define: { 'import.meta.url': '__spool_import_meta_url' } } : {}),
    });
    writeFileSync(target, code);
    files++;
  }
}
writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
process.stdout.write(`build: ${files} modules in dist/esm and dist/cjs\n`);
