import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, FACTORY_APP, run, tempDatabase, withWorker } from './helpers.js';

let env: ReturnType<typeof tempDatabase>;
beforeEach(() => {
  env = tempDatabase();
});
afterEach(() => env.cleanup());

/** Every command that opens a backend, as typed before `--help`. */
const COMMANDS = [
  ['dev'],
  ['worker'],
  ['enqueue'],
  ['status'],
  ['inspect'],
  ['dlq', 'list'],
  ['dlq', 'redrive'],
  ['schedules', 'list'],
  ['schedules', 'sync'],
  ['schedules', 'pause'],
  ['schedules', 'resume'],
  ['schedules', 'trigger'],
] as const;

describe('--db on every command that opens the embedded backend', () => {
  it.each(COMMANDS.map((command) => [command.join(' ')]))(
    'GIVEN spool %s --help THEN it lists --db <path>',
    async (command) => {
      const out = await run([...command.split(' '), '--help']);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/--db <path> +the embedded SQLite file/);
    },
  );

  it('GIVEN --app and --db WHEN worker and enqueue --wait THEN both run on that file, not on SPOOL_DB', async () => {
    expect((await run(['enqueue', 'greet', '{"name":"Here"}', '--app', APP])).code).toBe(0); // on SPOOL_DB
    const other = join(env.dir, 'other.db');
    const out = await withWorker(
      async (worker) => {
        expect(worker.stderr()).toBe('');
        return run(['enqueue', 'greet', '{"name":"Other"}', '--app', FACTORY_APP, '--db', other, '--wait']);
      },
      ['worker', '--app', FACTORY_APP, '--db', other],
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const id = out.stdout.split('\n')[0] ?? '';
    expect(JSON.parse((await run(['inspect', id, '--db', other, '--json'])).stdout)).toMatchObject({
      state: 'succeeded',
      result: 'Hello, Other!',
    });
    expect((await run(['inspect', id, '--db', env.db])).code).toBe(1); // SPOOL_DB's file never saw the run
    expect(JSON.parse((await run(['status', '--json'])).stdout)).toMatchObject({ queue: { visible: 1, inFlight: 0 } });
  });

  it('GIVEN --app and --db WHEN dev THEN it says it runs on that file', async () => {
    const other = join(env.dir, 'dev.db');
    const started = await withWorker(
      async (dev) => {
        for (let i = 0; i < 200 && !dev.stdout().includes('Ctrl-C to stop'); i++)
          await new Promise((r) => setTimeout(r, 25));
        return dev.stdout();
      },
      ['dev', '--app', FACTORY_APP, '--db', other],
    );
    expect(started).toContain(
      `spool dev: running 3 tasks (fail, flaky, greet) on embedded SQLite ${other} (queue spool)`,
    );
  });

  it('GIVEN --app and --db WHEN status THEN it reads that file through the app', async () => {
    expect((await run(['enqueue', 'greet', '{"name":"Here"}', '--app', APP])).code).toBe(0); // on SPOOL_DB
    const other = join(env.dir, 'status.db');
    for (const name of ['A', 'B'])
      await run(['enqueue', 'greet', `{"name":"${name}"}`, '--app', FACTORY_APP, '--db', other]);
    const status = JSON.parse((await run(['status', '--app', FACTORY_APP, '--db', other, '--json'])).stdout);
    expect(status).toMatchObject({ backend: `embedded SQLite ${other} (queue spool)`, queue: { visible: 2 } });
    expect(JSON.parse((await run(['status', '--app', FACTORY_APP, '--json'])).stdout)).toMatchObject({
      backend: `embedded SQLite ${env.db} (queue spool)`,
      queue: { visible: 1 },
    });
  });

  it('GIVEN --db and an app whose function ignores the backend passed in WHEN enqueue THEN it says so instead of using another file, exit 2', async () => {
    const other = join(env.dir, 'ignored.db');
    const out = await run(['enqueue', 'greet', '{"name":"A"}', '--app', APP, '--db', other]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(
      `--db ${other} asked for embedded SQLite ${other} (queue spool), but its exported function`,
    );
    expect(out.stderr).toContain(
      `ignored the backend it was passed and made its own (embedded SQLite ${env.db} (queue spool))`,
    );
    expect(out.stderr).toContain(
      'export default ({ backend }) => createSpool({ backend: backend ?? yourDefault, tasks })',
    );
  });

  it('GIVEN --db with --backend aws WHEN status THEN it says they contradict each other, exit 2', async () => {
    const out = await run(['status', '--backend', 'aws', '--db', env.db]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: --db ${env.db} names an embedded SQLite file, and --backend aws uses SQS`);
  });
});

describe('--backend aws without its configuration', () => {
  const names = ['SPOOL_QUEUE_URL', 'SPOOL_DLQ_URL', 'SPOOL_TABLE'] as const;
  let saved: Partial<Record<(typeof names)[number], string>> = {};
  beforeEach(() => {
    saved = {};
    for (const name of names) {
      const value = process.env[name];
      if (value !== undefined) saved[name] = value;
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const name of names) {
      const value = saved[name];
      if (value !== undefined) process.env[name] = value;
    }
  });

  it.each([
    [['worker', '--app', APP, '--backend', 'aws']],
    [['dev', '--app', APP, '--backend', 'aws']],
    [['enqueue', 'greet', '{"name":"A"}', '--app', APP, '--backend', 'aws']],
    [['status', '--app', APP, '--backend', 'aws']],
    [['status', '--backend', 'aws']],
  ])(
    'GIVEN no SPOOL_QUEUE_URL WHEN spool %j THEN it is a configuration error naming the variable, not the app, exit 2',
    async (args) => {
      const out = await run(args);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/^spool: --backend aws: AWS backend configuration: .*SPOOL_QUEUE_URL/);
      expect(out.stderr).not.toContain('app module');
    },
  );
});

describe('a --db file spool cannot use', () => {
  it.each([[['status']], [['inspect', 'f'.repeat(32)]], [['dlq', 'list']], [['schedules', 'list']]])(
    'GIVEN a text file as --db WHEN spool %j THEN it names the path and what to do, exit 2',
    async (command) => {
      const text = join(env.dir, 'notes.txt');
      writeFileSync(text, 'these are my notes, not a database\n'.repeat(20));
      const out = await run([...command, '--db', text]);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toBe(
        `spool: ${text} is not a spool database: SQLite says "file is not a database" (SQLITE_NOTADB). Point --db ` +
          '(or SPOOL_DB) at the SQLite file your app uses, or at a path where there is no file yet (dev, worker and ' +
          'enqueue create it there).\n',
      );
    },
  );

  it('GIVEN a text file as --db with --app WHEN enqueue THEN the same error, exit 2', async () => {
    const text = join(env.dir, 'notes.txt');
    writeFileSync(text, 'not a database\n'.repeat(20));
    const out = await run(['enqueue', 'greet', '{"name":"A"}', '--app', FACTORY_APP, '--db', text]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: ${text} is not a spool database`);
  });

  it('GIVEN a directory as --db WHEN status THEN it says it cannot open it and what to fix, exit 2', async () => {
    const dir = join(env.dir, 'a-directory');
    mkdirSync(dir);
    const out = await run(['status', '--db', dir]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(
      new RegExp(`^spool: cannot open the spool database ${dir}: .* \\(SQLITE_CANTOPEN\\)\\. It must be a file`),
    );
    expect(out.stderr).toContain('point --db (or SPOOL_DB) at another path.');
  });

  it('GIVEN SPOOL_DB naming a text file WHEN the app opens it itself (status --app) THEN it is a usage error with a hint, exit 2', async () => {
    writeFileSync(env.db, 'not a database\n'.repeat(20));
    const out = await run(['status', '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('calling its exported function failed: SqliteError: file is not a database');
    expect(out.stderr).toContain('The app opened an embedded database it cannot use: check SPOOL_DB');
  });
});
