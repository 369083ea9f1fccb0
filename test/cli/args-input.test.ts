import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeText } from '../../lib/cli/input.js';
import { APP, run, spawnCli, useCliSandbox, withWorker } from './helpers.js';

const sandbox = useCliSandbox();

/** Write `content` to a file in the test's directory; returns its absolute path. */
function file(name: string, content: string | Buffer): string {
  const path = join(sandbox.env().dir, name);
  writeFileSync(path, content);
  return path;
}

/** Enqueue greet with `args` and wait for it; the run's result, or what the CLI said. */
async function greetWith(args: readonly string[], stdin = '') {
  const out = await withWorker(() =>
    run(['enqueue', 'greet', ...args, '--app', APP, '--wait'], sandbox.env().dir, stdin),
  );
  return { ...out, result: out.code === 0 ? JSON.parse(out.stdout.trim().split('\n').slice(1).join('\n')) : undefined };
}

describe('spool enqueue: arguments from a file or stdin', () => {
  it('GIVEN --args-file naming a JSON file (relative to the working directory) WHEN enqueue --wait THEN the run gets those arguments', async () => {
    file('args.json', '{\n  "name": "File"\n}\n');
    const out = await greetWith(['--args-file', 'args.json']);
    expect(out.stderr).toBe('');
    expect(out.result).toBe('Hello, File!');
  });

  it('GIVEN a file Windows PowerShell wrote (UTF-16LE with a byte order mark) WHEN enqueue --args-file THEN it reads it', async () => {
    const path = file(
      'ps.json',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"name":"Zoë"}\r\n', 'utf16le')]),
    );
    const out = await greetWith(['--args-file', path]);
    expect(out.stderr).toBe('');
    expect(out.result).toBe('Hello, Zoë!');
  });

  it('GIVEN - as the arguments and JSON on stdin WHEN enqueue --wait THEN the run gets those arguments', async () => {
    const out = await greetWith(['-'], '{"name":"Stdin"}');
    expect(out.stderr).toBe('');
    expect(out.result).toBe('Hello, Stdin!');
  });

  it('GIVEN --args-file - WHEN enqueue THEN it reads stdin too', async () => {
    const out = await greetWith(['--args-file', '-'], '{"name":"Dash"}');
    expect(out.result).toBe('Hello, Dash!');
  });

  it('GIVEN --args-file naming a missing file WHEN enqueue THEN it names the resolved path and what to pass, exit 2', async () => {
    const out = await run(['enqueue', 'greet', '--args-file', 'nowhere.json', '--app', APP], sandbox.env().dir);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      `spool: --args-file nowhere.json: cannot read ${join(sandbox.env().dir, 'nowhere.json')}: there is no such file. ` +
        `Pass the path of a file that holds the arguments as JSON (relative to ${sandbox.env().dir}), or - to read them from stdin.\n`,
    );
  });

  it('GIVEN --args-file naming a directory WHEN enqueue THEN it says it is a directory, exit 2', async () => {
    mkdirSync(join(sandbox.env().dir, 'args'));
    const out = await run(['enqueue', 'greet', '--args-file', 'args', '--app', APP], sandbox.env().dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`cannot read ${join(sandbox.env().dir, 'args')}: it is a directory.`);
  });

  it('GIVEN a file with invalid JSON WHEN enqueue --args-file THEN it names the file and points at line, column and position, exit 2', async () => {
    const path = file('bad.json', '{\n  "name": "Ada",\n  "age": ,\n}\n');
    const out = await run(['enqueue', 'greet', '--args-file', path, '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `spool: arguments of 'greet' (from ${path}): not valid JSON: unexpected "," at position 28 (line 3, column 10):\n` +
        '    "age": ,\n' +
        '           ^\n' +
        `Fix the JSON in ${path}: it must hold one JSON value, e.g. {"key":"value"}.\n`,
    );
  });

  it('GIVEN invalid JSON on stdin WHEN enqueue - THEN it says it came from stdin and points at the position, exit 2', async () => {
    const out = await run(['enqueue', 'greet', '-', '--app', APP], sandbox.env().dir, "{'name':'Ada'}");
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(
      `spool: arguments of 'greet' (from stdin): not valid JSON: unexpected "'" at position 1`,
    );
    expect(out.stderr).toContain('Send one JSON value on stdin');
  });

  it('GIVEN both a JSON argument and --args-file WHEN enqueue THEN it refuses, naming both, exit 2', async () => {
    const path = file('args.json', '{"name":"File"}');
    const out = await run(['enqueue', 'greet', '{"name":"Arg"}', '--args-file', path, '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      `spool: the arguments of 'greet' were given twice: as the argument "{\\"name\\":\\"Arg\\"}" and with --args-file ${path}. ` +
        'Pass one of them: the JSON argument, - to read stdin, or --args-file <path>.\n',
    );
  });

  it('GIVEN - and --args-file WHEN enqueue THEN it refuses too, exit 2', async () => {
    const path = file('args.json', '{"name":"File"}');
    const out = await run(
      ['enqueue', 'greet', '-', '--args-file', path, '--app', APP],
      sandbox.env().dir,
      '{"name":"In"}',
    );
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('were given twice');
  });

  it('GIVEN - and an empty stdin WHEN enqueue THEN it says stdin was empty and how to send the arguments, exit 2', async () => {
    const out = await run(['enqueue', 'greet', '-', '--app', APP], sandbox.env().dir, '  \n');
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      "spool: no arguments on stdin: - reads the arguments of 'greet' as JSON from stdin, and stdin was empty. " +
        'Send them there (spool enqueue greet - --app … < args.json), or pass --args-file <path>.\n',
    );
  });

  it('GIVEN an empty file WHEN enqueue --args-file THEN it says the file is empty, exit 2', async () => {
    const path = file('empty.json', '');
    const out = await run(['enqueue', 'greet', '--args-file', path, '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: --args-file ${path} is empty: write the arguments of 'greet' into it`);
  });

  it('GIVEN JSON the shell mangled (cmd.exe keeps the single quotes) WHEN enqueue THEN the error suggests --args-file and -', async () => {
    const out = await run(['enqueue', 'greet', `'{"name":"Ada"}'`, '--app', APP]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`spool: arguments of 'greet': not valid JSON: unexpected "'" at position 0`);
    expect(out.stderr).toContain('put the JSON in a file and pass --args-file <path>, or pipe it in with -.');
  });
});

describe('decodeText', () => {
  it.each([
    ['UTF-8', Buffer.from('{"a":"é"}', 'utf8')],
    ['UTF-8 with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"é"}', 'utf8')])],
    ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":"é"}', 'utf16le')])],
    ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('{"a":"é"}', 'utf16le').swap16()])],
  ])('GIVEN %s WHEN decoded THEN the text is the JSON without a BOM', (_name, bytes) => {
    expect(decodeText(bytes)).toBe('{"a":"é"}');
  });
});

describe('bin/spool.mjs enqueue with stdin', () => {
  it('GIVEN JSON piped into `spool enqueue greet -` WHEN run THEN it enqueues with those arguments, exit 0', async () => {
    const cli = spawnCli(
      ['enqueue', 'greet', '-', '--app', APP, '--json'],
      { SPOOL_DB: sandbox.env().db },
      {
        input: '{"name":"Pipe"}\n',
      },
    );
    sandbox.track(cli);
    expect(await cli.exited(30_000)).toBe(0);
    const { id } = JSON.parse(cli.stdout()) as { id: string };
    const result = await withWorker(async () => {
      for (let i = 0; i < 200; i++) {
        const out = await run(['inspect', id, '--json']);
        if (out.stdout.includes('"succeeded"')) return JSON.parse(out.stdout) as { result: unknown };
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`run ${id} did not succeed`);
    });
    expect(result.result).toBe('Hello, Pipe!');
  });

  it('GIVEN `spool enqueue greet -` with no stdin WHEN run THEN it says stdin was empty, exit 2', async () => {
    const cli = spawnCli(['enqueue', 'greet', '-', '--app', APP], { SPOOL_DB: sandbox.env().db });
    sandbox.track(cli);
    expect(await cli.exited(30_000)).toBe(2);
    expect(cli.stderr()).toContain('spool: no arguments on stdin');
  });
});
