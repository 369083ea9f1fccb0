/**
 * The process around the CLI: `bin/spool.mjs` calls {@link runCli}, which runs {@link main} on
 * `process.argv` and exits with the code it resolves, once stdout and stderr are flushed.
 *
 * @module
 */

import { main } from './main.js';

/** Resolve once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** Run `spool` with this process's arguments, then exit with its code. */
export async function runCli(): Promise<never> {
  // `spool dlq list | head`: the reader went away; stop quietly instead of crashing on EPIPE.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  // The AWS SDK warns on every process under Node < 22 that its 2027 releases will need Node 22:
  // eight lines before each command's output. The README states the supported Node versions;
  // set the variable to "false" to see the warning again.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let code: number;
  try {
    code = await main(process.argv);
  } catch (error) {
    process.stderr.write(`spool: could not start the CLI: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 3;
  }
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
