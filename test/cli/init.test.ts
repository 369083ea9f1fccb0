import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

describe('spool init', () => {
  const dirs: string[] = [];
  const temp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-init-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a new directory WHEN spool init runs THEN it writes a project whose scripts and dependencies fit together', async () => {
    const cwd = temp();
    const outcome = await run(['init', 'my-tasks'], cwd);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('cd my-tasks');
    const manifest = JSON.parse(readFileSync(join(cwd, 'my-tasks', 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: 'my-tasks', type: 'module', private: true });
    const own = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(manifest.dependencies['spool-tasks']).toBe(`^${own.version}`);
    // The versions spool is tested with, not 'latest'.
    expect(manifest.dependencies.zod).toBe(own.devDependencies.zod);
    expect(manifest.devDependencies.vitest).toBe(own.devDependencies.vitest);
    expect(manifest.allowScripts).toEqual({ 'better-sqlite3': true, esbuild: true });
    expect(Object.keys(manifest.scripts)).toEqual(expect.arrayContaining(['dev', 'test', 'deploy', 'deploy:local']));
    for (const file of [
      'src/contracts.ts',
      'src/tasks.ts',
      'src/app.ts',
      'src/worker.ts',
      'infra/app.ts',
      'test/tasks.test.ts',
    ]) {
      expect(readFileSync(join(cwd, 'my-tasks', file), 'utf8')).toContain("from 'spool-tasks");
    }
    expect(readFileSync(join(cwd, 'my-tasks', 'infra/app.ts'), 'utf8')).toContain('new Stack(app, "MyTasksStack")');
  });

  it('GIVEN a tarball path WHEN passed as --spool-spec THEN the dependency is its absolute file: spec', async () => {
    const cwd = temp();
    writeFileSync(join(cwd, 'spool-tasks-9.9.9.tgz'), '');
    expect((await run(['init', 'app', '--spool-spec', './spool-tasks-9.9.9.tgz'], cwd)).code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(cwd, 'app', 'package.json'), 'utf8'));
    expect(manifest.dependencies['spool-tasks']).toBe(`file:${join(cwd, 'spool-tasks-9.9.9.tgz')}`);
  });

  it('GIVEN a directory that is not empty WHEN spool init runs THEN it refuses with exit 2 and writes nothing', async () => {
    const cwd = temp();
    writeFileSync(join(cwd, 'keep.txt'), 'mine');
    const outcome = await run(['init'], cwd);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/is not empty.*--force/);
    expect(() => readFileSync(join(cwd, 'package.json'))).toThrow();
  });

  it('GIVEN a directory name npm refuses WHEN spool init runs THEN it asks for --name', async () => {
    const cwd = temp();
    const outcome = await run(['init', 'My Tasks!'], cwd);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/"my tasks!" is not a valid npm package name.*--name/);
  });

  it('GIVEN a tarball path that does not exist WHEN passed as --spool-spec THEN exit 2 names the path', async () => {
    const cwd = temp();
    const outcome = await run(['init', 'app', '--spool-spec', './missing.tgz'], cwd);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(join(cwd, 'missing.tgz'));
  });
});
