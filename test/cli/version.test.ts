import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { packageVersion } from '../../lib/cli/version.js';
import { ROOT, run, type Spawned, spawnCli } from './helpers.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dirs: string[] = [];
const children: Spawned[] = [];
afterEach(async () => {
  for (const spawned of children.splice(0)) {
    if (spawned.child.exitCode === null) spawned.child.kill('SIGKILL');
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory with `files` (path → content) in it. */
function tree(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-version-'));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('spool --version', () => {
  it.each([['--version'], ['-V']])(
    'GIVEN %s WHEN run in-process (lib/cli) THEN it prints the package version, exit 0',
    async (flag) => {
      const out = await run([flag]);
      expect(out).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    },
  );

  it('GIVEN --version WHEN bin/spool.mjs runs the built CLI (dist/esm/lib/cli) THEN it prints the package version, exit 0', async () => {
    const cli = spawnCli(['--version']);
    children.push(cli);
    expect(await cli.exited(30_000)).toBe(0);
    expect(cli.stdout()).toBe(`${VERSION}\n`);
  });
});

describe('packageVersion', () => {
  it('GIVEN a module in dist/esm/lib/cli of an installed package THEN it passes over dist/esm/package.json and reads the package root', () => {
    const dir = tree({
      'node_modules/spool-tasks/package.json': JSON.stringify({ name: 'spool-tasks', version: '9.8.7' }),
      'node_modules/spool-tasks/dist/esm/package.json': JSON.stringify({ type: 'module' }),
      'package.json': JSON.stringify({ name: 'their-app', version: '1.0.0' }),
    });
    const module = join(dir, 'node_modules/spool-tasks/dist/esm/lib/cli/version.js');
    expect(packageVersion(pathToFileURL(module).href)).toBe('9.8.7');
    expect(packageVersion(module)).toBe('9.8.7');
  });

  it('GIVEN no package.json of spool-tasks above the module THEN it throws, naming where it looked', () => {
    const dir = tree({ 'package.json': JSON.stringify({ name: 'their-app', version: '1.0.0' }) });
    const module = join(dir, 'lib/cli/version.js');
    expect(() => packageVersion(module)).toThrow(
      `no package.json of spool-tasks in ${join(dir, 'lib/cli')} or above it`,
    );
  });
});
