/**
 * `spool local start|stop|status|install`: the local AWS endpoint of the user's project (see
 * `lib/local/endpoint.ts`): ministack in a project-local virtualenv on 127.0.0.1, or a running
 * LocalStack or ministack given with `--endpoint`.
 *
 * @module
 */

import type { Command } from 'commander';
import {
  checkEndpoint,
  DEFAULT_LOCAL_PORT,
  findProjectRoot,
  type LocalPaths,
  localEndpointStatus,
  localPaths,
  startLocalEndpoint,
  stopLocalEndpoint,
} from '../local/endpoint.js';
import { localAwsEnvironment, shellExports } from '../local/env.js';
import { installMinistack, MINISTACK_VERSION } from '../local/ministack.js';
import { integer, jsonOption } from './options.js';
import { type CliContext, CliError, EXIT, line, printJson } from './output.js';

interface PlaceFlags {
  /** The project root (default: the nearest directory with a package.json). */
  readonly root?: string;
  /** The virtualenv (default `<root>/.spool/ministack/venv`). */
  readonly venv?: string;
}

interface StartFlags extends PlaceFlags {
  readonly port?: number;
  readonly endpoint?: string;
  readonly json?: boolean;
}

interface StatusFlags extends PlaceFlags {
  readonly endpoint?: string;
  readonly json?: boolean;
}

const FILES = `
Files (under the project root, the nearest directory with a package.json; add .spool/ to .gitignore):
  .spool/ministack/venv/                the virtualenv with ministack (PyPI), made on first start
  .spool/ministack/ministack.pid.json   pid and port of the running endpoint (stop uses this pid only)
  .spool/ministack/ministack-<port>.log its output`;

/** Register `spool local` and its subcommands. */
export function registerLocal(program: Command, ctx: CliContext): void {
  const local = program
    .command('local')
    .description('The local AWS endpoint (ministack, no Docker) for this project: start, stop, status.')
    .addHelpText(
      'after',
      `
ministack ${MINISTACK_VERSION} runs from a project-local Python virtualenv, bound to 127.0.0.1 only.
Needs Python 3.10+ with venv (Debian: apt-get install python3-venv). With Docker, LocalStack works
too: start it yourself and pass --endpoint.
${FILES}

Examples:
  $ eval "$(spool local start)"                    # AWS_ENDPOINT_URL, AWS_REGION, test credentials
  $ eval "$(spool provision --prefix myapp-dev)"   # queues, table, schedule group on it
  $ spool worker --app src/spool.ts --backend aws
  $ spool local status
  $ spool local stop`,
    );

  const place = (c: Command) =>
    c
      .option('--root <dir>', 'the project root (default: the nearest directory with a package.json)')
      .option('--venv <dir>', 'the virtualenv to use (default <root>/.spool/ministack/venv)');

  place(
    local
      .command('start')
      .description(
        'Start ministack on 127.0.0.1:<port> (installing it on first use), or check --endpoint; prints the environment.',
      )
      .option('--port <n>', `the port (default ${DEFAULT_LOCAL_PORT}); an error if it is taken`, integer(1, 65_535))
      .option('--endpoint <url>', 'use this running LocalStack or ministack instead: only check that it answers')
      .addOption(jsonOption()),
  )
    .addHelpText(
      'after',
      `
Prints export lines for AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY on
stdout (eval them), and what it did on stderr. Starting it again while it runs changes nothing.
${FILES}

Examples:
  $ eval "$(spool local start)"
  $ spool local start --port 4577
  $ spool local start --endpoint http://127.0.0.1:4566   # a LocalStack you run (docker compose up)`,
    )
    .action(async (flags: StartFlags) => {
      ctx.exit(await start(ctx, flags));
    });

  place(
    local
      .command('stop')
      .description('Stop the endpoint `spool local start` started, by the pid in its pid file (that process only).'),
  ).action(async (flags: PlaceFlags) => {
    ctx.exit(await stop(ctx, flags));
  });

  place(
    local
      .command('status')
      .description('Say whether the local endpoint runs and where (exit 1 when it does not).')
      .option('--endpoint <url>', 'check this endpoint instead of the one `spool local start` started')
      .addOption(jsonOption()),
  ).action(async (flags: StatusFlags) => {
    ctx.exit(await status(ctx, flags));
  });

  place(
    local
      .command('install')
      .description(
        `Only install ministack ${MINISTACK_VERSION} into the virtualenv (e.g. in a CI step that caches it).`,
      ),
  ).action((flags: PlaceFlags) => {
    const paths = pathsOf(ctx, flags);
    installMinistack({ venvDir: paths.venv, log: (text) => line(ctx.stderr, text) });
    line(ctx.stdout, `ministack ${MINISTACK_VERSION} installed in ${paths.venv}`);
    ctx.exit(EXIT.ok);
  });
}

function pathsOf(ctx: CliContext, flags: PlaceFlags): LocalPaths {
  const root = flags.root === undefined ? findProjectRoot(ctx.cwd) : findProjectRoot(flags.root);
  return localPaths(root, flags.venv === undefined ? undefined : flags.venv);
}

async function start(ctx: CliContext, flags: StartFlags): Promise<number> {
  if (flags.endpoint !== undefined) {
    if (flags.port !== undefined) {
      throw new CliError(
        '--port and --endpoint do not go together: --port starts ministack on that port, --endpoint uses one that runs. Pass one of them.',
        EXIT.usage,
      );
    }
    await checkEndpoint(flags.endpoint);
    const env = localAwsEnvironment(flags.endpoint);
    if (flags.json === true) printJson(ctx.stdout, { endpoint: flags.endpoint, started: false, environment: env });
    else {
      line(
        ctx.stderr,
        `spool local: an AWS endpoint answers at ${flags.endpoint} (not started by spool; stop it yourself)`,
      );
      ctx.stdout.write(shellExports(env));
    }
    return EXIT.ok;
  }
  const paths = pathsOf(ctx, flags);
  // A taken port or a missing Python is a ConfigurationError: exit 2, with what to do.
  const started = await startLocalEndpoint(paths, {
    ...(flags.port === undefined ? {} : { port: flags.port }),
    log: (text) => line(ctx.stderr, `spool local: ${text}`),
  });
  const s = started.endpoint;
  const env = localAwsEnvironment(s.endpoint);
  if (flags.json === true) {
    printJson(ctx.stdout, { ...s, started: !started.alreadyRunning, pidFile: paths.pidFile, environment: env });
  } else {
    line(
      ctx.stderr,
      started.alreadyRunning
        ? `spool local: ministack already runs on ${s.endpoint} (pid ${s.pid}, since ${s.startedAt})`
        : `spool local: ministack ${s.version} on ${s.endpoint} (pid ${s.pid}; log ${s.logFile}). Stop it with: spool local stop`,
    );
    ctx.stdout.write(shellExports(env));
  }
  return EXIT.ok;
}

async function stop(ctx: CliContext, flags: PlaceFlags): Promise<number> {
  const paths = pathsOf(ctx, flags);
  const stopped = await stopLocalEndpoint(paths);
  line(
    ctx.stdout,
    stopped === undefined
      ? `spool local: not running (no live pid in ${paths.pidFile}); nothing to stop`
      : `spool local: stopped ministack on ${stopped.endpoint} (pid ${stopped.pid})`,
  );
  return EXIT.ok;
}

async function status(ctx: CliContext, flags: StatusFlags): Promise<number> {
  if (flags.endpoint !== undefined) {
    let answers = true;
    try {
      await checkEndpoint(flags.endpoint);
    } catch {
      answers = false;
    }
    if (flags.json === true)
      printJson(ctx.stdout, { state: answers ? 'running' : 'stopped', endpoint: flags.endpoint });
    else line(ctx.stdout, `${flags.endpoint}: ${answers ? 'answers' : 'does not answer'}`);
    return answers ? EXIT.ok : EXIT.failed;
  }
  const paths = pathsOf(ctx, flags);
  const s = await localEndpointStatus(paths);
  if (flags.json === true) {
    printJson(ctx.stdout, s.state === 'stopped' ? { state: s.state } : { state: s.state, ...s.endpoint });
  } else if (s.state === 'stopped') {
    line(ctx.stdout, `spool local: not running (start it with: spool local start)`);
  } else {
    const e = s.endpoint;
    line(
      ctx.stdout,
      s.state === 'running'
        ? `spool local: ministack ${e.version} runs on ${e.endpoint} (pid ${e.pid}, since ${e.startedAt}; log ${e.logFile})`
        : `spool local: pid ${e.pid} is alive but ${e.endpoint} does not answer (starting, or hung: see ${e.logFile}; spool local stop)`,
    );
  }
  return s.state === 'running' ? EXIT.ok : EXIT.failed;
}
