/**
 * The `spool` command line: builds the commander program and runs it. `bin/spool.mjs` calls
 * {@link main} and exits with the code it resolves; nothing here calls `process.exit`.
 *
 * @module
 */

import { Command } from 'commander';
import { registerDlq } from './dlq.js';
import { registerEnqueue } from './enqueue.js';
import { registerInit } from './init.js';
import { registerInspect } from './inspect.js';
import { registerLocal } from './local.js';
import { type CliContext, type CliIo, EXIT } from './output.js';
import { registerProvision } from './provision.js';
import { reportError } from './report.js';
import { registerSchedules } from './schedules.js';
import { registerStatus } from './status.js';
import { packageVersion } from './version.js';
import { registerWorkers } from './worker.js';

export type { CliIo } from './output.js';

const FOOTER = `
Apps: commands that run or enqueue tasks take --app <module> (env SPOOL_APP), a module whose
default export is createSpool({...}) or a function returning one (TypeScript works as is).
Commands that only read (status, inspect, dlq, schedules list) take --app or --db <path> (env
SPOOL_DB, default .spool/spool.db, the embedded SQLite file). With --app, --db <path> runs the
app on that file, and --backend aws on SQS and DynamoDB, when its function takes { backend }.

Exit codes:
  0  ok
  1  the thing asked about failed or was not found (a failed run, an absent record)
  2  usage or validation error (bad flags, bad JSON, invalid arguments, missing configuration)
  3  backend unreachable, or an unexpected error

Set SPOOL_DEBUG=1 to see stack traces.

Examples:
  $ spool dev --app src/spool.ts
  $ spool enqueue greet '{"name":"Ada"}' --app src/spool.ts --wait
  $ spool status
  $ spool dlq list
  $ spool schedules sync --app src/spool.ts --dry-run`;

/**
 * Run the CLI. `argv` is `process.argv`-shaped (node, script, then the arguments). Resolves the
 * exit code: 0 ok, 1 failed or not found, 2 usage or validation error, 3 backend or unexpected
 * error. `io` replaces stdin, stdout, stderr, the working directory and the signal source (tests).
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  let code: number = EXIT.ok;
  const ctx: CliContext = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    cwd: io.cwd ?? process.cwd(),
    signals: io.signals ?? process,
    exit: (c) => {
      code = c;
    },
  };
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'node' });
    return code;
  } catch (error) {
    return reportError(ctx, error);
  }
}

/** The commander program, writing to `ctx` and throwing instead of exiting. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('spool');
  // Settings first: subcommands created with .command() inherit them.
  program
    .description('Typed, exactly-once task queue: run workers, enqueue runs, inspect runs and dead letters.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, 'spool: ')),
    })
    .version(versionText(), '-V, --version', 'print the version of spool-tasks')
    .showHelpAfterError('(add --help for usage)')
    .helpCommand(true)
    .addHelpText('after', FOOTER);
  registerWorkers(program, ctx);
  registerEnqueue(program, ctx);
  registerStatus(program, ctx);
  registerInspect(program, ctx);
  registerDlq(program, ctx);
  registerSchedules(program, ctx);
  registerProvision(program, ctx);
  registerLocal(program, ctx);
  registerInit(program, ctx);
  return program;
}

/** The version for `--version`; a broken install must not stop the other commands. */
function versionText(): string {
  try {
    return packageVersion();
  } catch (error) {
    return `unknown: ${error instanceof Error ? error.message : String(error)}`;
  }
}
