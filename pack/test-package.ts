/**
 * `npm run test:package`: the package as a user gets it. Packs the tarball, lints it (publint,
 * arethetypeswrong), then makes two fresh projects outside the repository, one ESM
 * (`"type": "module"`) and one CommonJS (`npm init -y`'s default). Each installs the tarball with
 * only what a user would add, then:
 *
 * 1. type-checks the user's code under strict NodeNext with `skipLibCheck: false`;
 * 2. compiles it with `tsc` and runs a task on the embedded backend with plain `node`;
 * 3. runs `npx spool worker --app src/app.ts` (TypeScript, under the project's tsx: as ESM in one
 *    project and as CommonJS in the other) while compiled code enqueues and waits for the result;
 * 4. runs `cdk synth` of a stack with `TaskQueue` and the user's own worker entry;
 * 5. bundles a producer that enqueues, and checks the bundle holds no handler code.
 *
 * A third project installs spool and zod only: the core runs, and the parts whose optional peers
 * are missing say what to install (and `spool-tasks/cdk` loads with the CDK alone). Then
 * `spool init` scaffolds a project from the tarball, and its own `npm test` must pass.
 * Exits 0 only if every step held. `--keep` keeps the temporary directory; `--only esm|cjs|peers|init`
 * runs one part.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { userProject } from './user-project.js';

const ROOT = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
const PARTS = ['esm', 'cjs', 'peers', 'init'];
if (only !== undefined && !PARTS.includes(only)) {
  process.stderr.write(`test:package: --only takes one of ${PARTS.join(', ')}, not ${JSON.stringify(only)}\n`);
  process.exit(2);
}
const say = (line: string) => process.stdout.write(`${line}\n`);

/** The versions of what a user adds, as this repository pins them (so the npm cache has them). */
function versionOf(name: string): string {
  const manifest = createRequire(join(ROOT, 'package.json'))(`${name}/package.json`) as { version: string };
  return manifest.version;
}

/** Run a command; its output is kept and shown only when it fails. */
function sh(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; status?: number | null; message: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed (exit ${e.status ?? 'none'}): ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

let failures = 0;
async function step(name: string, run: () => unknown): Promise<void> {
  const t0 = Date.now();
  try {
    await run();
    say(`✔ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failures++;
    say(`✘ ${name}\n${error instanceof Error ? error.message : String(error)}`);
    throw new StepFailed(name, { cause: error });
  }
}

/** A step failed (and was reported): the run stops. */
class StepFailed extends Error {
  override name = 'StepFailed';
}

/** Spawn a long-running command; resolves once `ready` appears in its output. */
function startProcess(command: string, args: readonly string[], cwd: string, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so that a signal reaches npx and the CLI under it, as Ctrl-C does.
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} printed no ${ready} within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolvePromise(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/**
 * Stop a spawned worker as Ctrl-C does (SIGINT to its process group) and check that it stopped
 * gracefully: it logged "worker stopped", and exited 0 — or, for npx, which re-raises the signal
 * its child got once the child is done, ended by that SIGINT.
 */
function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    child.removeAllListeners('exit');
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      reject(new Error(`the worker did not stop within 30 s of SIGINT:\n${output}`));
    }, 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const stopped = /worker stopped/.test(output);
      if (stopped && (code === 0 || signal === 'SIGINT')) resolvePromise();
      else reject(new Error(`after SIGINT the worker exited with ${code ?? signal}, logging:\n${output}`));
    });
    signalGroup(child, 'SIGINT');
  });
}

/** Send `signal` to the process group `child` leads (npx and the process it runs). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) process.kill(-child.pid, signal);
}

/** A fresh project of `kind` in `dir`, with the tarball and what a user would add installed. */
async function testProject(kind: 'esm' | 'cjs', dir: string, tarball: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  sh(npm, ['init', '-y'], dir);
  if (kind === 'esm') sh(npm, ['pkg', 'set', 'type=module'], dir);
  // npm 11 runs no dependency's install script unless package.json allows it: better-sqlite3
  // compiles (or downloads) its addon in one, esbuild checks its binary in one.
  sh(npm, ['pkg', 'set', 'allowScripts.better-sqlite3=true', 'allowScripts.esbuild=true', '--json'], dir);
  for (const [path, text] of Object.entries(userProject())) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const adds = ['zod', 'better-sqlite3', 'aws-cdk-lib', 'constructs', 'esbuild'].map((n) => `${n}@${versionOf(n)}`);
  const sdk = ['client-sqs', 'client-dynamodb', 'lib-dynamodb', 'util-dynamodb', 'client-scheduler', 'client-s3'].map(
    (n) => `@aws-sdk/${n}@${versionOf(`@aws-sdk/${n}`)}`,
  );
  const devAdds = ['typescript', '@types/node', 'aws-cdk', 'tsx'].map((n) => `${n}@${versionOf(n)}`);
  await step(`${kind}: npm install the tarball, zod, better-sqlite3, the AWS SDK clients, aws-cdk-lib`, () => {
    sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...adds, ...sdk], dir);
    sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', ...devAdds], dir);
  });
  await step(
    `${kind}: tsc --noEmit (strict, NodeNext, skipLibCheck false; and exactOptionalPropertyTypes & co.)`,
    () => {
      sh(npx, ['tsc', '-p', '.', '--noEmit'], dir);
      sh(npx, ['tsc', '-p', 'tsconfig.strictest.json', '--noEmit'], dir);
    },
  );
  await step(`${kind}: tsc, then node dist/run.js runs a task on the embedded backend`, () => {
    sh(npx, ['tsc', '-p', '.'], dir);
    const out = sh(process.execPath, ['dist/run.js'], dir).trim().split('\n').at(-1) ?? '';
    const result = JSON.parse(out) as { state?: string; result?: unknown };
    if (result.state !== 'succeeded' || result.result !== 'Hello, Ada!') throw new Error(`unexpected: ${out}`);
  });
  // TypeScript under tsx: in the CommonJS project it loads as CommonJS and requires dist/cjs.
  const appModule = 'src/app.ts';
  await step(`${kind}: npx spool worker --app ${appModule} runs what compiled code enqueues`, async () => {
    const version = sh(npx, ['spool', '--version'], dir).trim();
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    if (!version.includes(manifest.version)) throw new Error(`spool --version printed ${version}`);
    const worker = await startProcess(
      npx,
      ['spool', 'worker', '--app', appModule, '--concurrency', '2'],
      dir,
      /worker started|polling|started/i,
    );
    try {
      const out = sh(process.execPath, ['dist/enqueue.js', 'Grace'], dir).trim().split('\n').at(-1) ?? '';
      if (JSON.parse(out) !== 'Hello, Grace!') throw new Error(`unexpected result: ${out}`);
    } finally {
      await stopProcess(worker);
    }
  });
  await step(`${kind}: cdk synth of a stack with TaskQueue and the user's worker entry`, () => {
    sh(npx, ['cdk', 'synth', '--quiet', '--no-notices', '--no-version-reporting', '--app', 'node dist/infra.js'], dir, {
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    });
    const template = readdirSync(join(dir, 'cdk.out')).find((f) => f.endsWith('.template.json'));
    if (template === undefined) throw new Error('cdk synth wrote no template');
    const text = readFileSync(join(dir, 'cdk.out', template), 'utf8');
    for (const type of ['AWS::SQS::Queue', 'AWS::DynamoDB::Table', 'AWS::Lambda::EventSourceMapping']) {
      if (!text.includes(type)) throw new Error(`the template has no ${type}`);
    }
    const assets = readdirSync(join(dir, 'cdk.out')).filter((f) => f.startsWith('asset.'));
    const worker = assets.map((a) => join(dir, 'cdk.out', a, 'index.js')).find((f) => existsSync(f));
    if (worker === undefined) throw new Error(`cdk synth bundled no worker (assets: ${assets.join(', ')})`);
    if (readFileSync(worker, 'utf8').includes('better-sqlite3'))
      throw new Error('the worker bundle contains SQLite code');
  });
  await step(`${kind}: a producer bundle enqueues without the handlers' code`, () => {
    const bundle = join(dir, 'producer.bundle.cjs');
    sh(npx, ['esbuild', 'src/producer.ts', '--bundle', '--platform=node', '--format=cjs', `--outfile=${bundle}`], dir);
    const text = readFileSync(bundle, 'utf8');
    if (text.includes('HANDLER_ONLY_MARKER')) throw new Error('the producer bundle contains handler code');
    if (text.includes('better-sqlite3')) throw new Error('the producer bundle contains SQLite code');
    if (!text.includes('greet')) throw new Error('the producer bundle lacks the task contract');
  });
}

/**
 * A project with spool and zod only: the core works, and each part whose optional peer is missing
 * says what to install instead of failing with a bare module-not-found.
 */
async function testWithoutPeers(dir: string, tarball: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  sh(npm, ['init', '-y'], dir);
  sh(npm, ['pkg', 'set', 'type=module'], dir);
  await step('peers: npm install the tarball and zod only (no SQLite, no AWS SDK, no CDK)', () => {
    sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `zod@${versionOf('zod')}`], dir);
  });
  await step('peers: the core runs, and spool-tasks/embedded asks for better-sqlite3', () => {
    const script = `
      import { defineTask } from 'spool-tasks';
      import { z } from 'zod';
      defineTask({ name: 'ok', schema: z.object({}), handler: () => 1 });
      const { openEmbeddedBackend } = await import('spool-tasks/embedded');
      try { openEmbeddedBackend({ path: ':memory:' }); console.log('opened'); }
      catch (error) { console.log(error.name + ': ' + error.message); }`;
    const out = sh(process.execPath, ['--input-type=module', '-e', script], dir);
    if (!/ConfigurationError: better-sqlite3 is not installed.*npm install better-sqlite3/.test(out)) {
      throw new Error(`unexpected: ${out}`);
    }
  });
  await step('peers: with aws-cdk-lib and constructs added, spool-tasks/cdk loads without the AWS SDK', () => {
    const cdk = ['aws-cdk-lib', 'constructs'].map((n) => `${n}@${versionOf(n)}`);
    sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', ...cdk], dir);
    const out = sh(
      process.execPath,
      ['--input-type=module', '-e', "console.log(typeof (await import('spool-tasks/cdk')).TaskQueue)"],
      dir,
    );
    if (out.trim() !== 'function') throw new Error(`unexpected: ${out}`);
  });
  await step('peers: spool --backend aws asks for the AWS SDK clients, exit 2', () => {
    try {
      sh(npx, ['spool', 'status', '--backend', 'aws'], dir, { SPOOL_QUEUE_URL: '', AWS_REGION: 'us-east-1' });
      throw new Error('spool status --backend aws succeeded without the AWS SDK');
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (
        !/@aws-sdk\/client-sqs is not installed.*npm install @aws-sdk\/client-sqs/s.test(text) ||
        !/\(exit 2\)/.test(text)
      ) {
        throw new Error(`unexpected: ${text}`);
      }
    }
  });
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'spool-package-'));
  try {
    let tarball = '';
    await step('npm pack (builds dist/)', () => {
      const name = sh(npm, ['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').at(-1) ?? '';
      tarball = join(work, name);
    });
    await step('publint: the packed package', () => {
      const out = sh(npx, ['publint', tarball, '--strict'], ROOT);
      if (!/All good/.test(out)) throw new Error(out);
    });
    await step('arethetypeswrong: every entry point, every resolution mode', () => {
      sh(npx, ['attw', tarball], ROOT);
    });
    if (only === undefined || only === 'esm') await testProject('esm', join(work, 'esm-app'), tarball);
    if (only === undefined || only === 'cjs') await testProject('cjs', join(work, 'cjs-app'), tarball);
    if (only === undefined || only === 'peers') await testWithoutPeers(join(work, 'no-peers'), tarball);
    if (only === undefined || only === 'init') {
      await step('spool init demo, then npm install and npm test in it', () => {
        const host = join(work, 'init-host');
        mkdirSync(host);
        sh(npm, ['init', '-y'], host);
        sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], host);
        sh(npx, ['spool', 'init', 'demo', '--spool-spec', tarball], host);
        const demo = join(host, 'demo');
        sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline'], demo);
        sh(npm, ['test'], demo);
      });
    }
  } catch (error) {
    // A step's failure is reported and counted by step(); anything else is counted here.
    if (!(error instanceof StepFailed)) {
      failures++;
      say(`✘ test:package stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  } finally {
    if (keep) say(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  say(failures === 0 ? 'test:package passed' : 'test:package FAILED');
  return failures === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
});
