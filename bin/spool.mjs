#!/usr/bin/env node
// The `spool` command. Registers tsx so that the CLI and your app module may be TypeScript, runs
// lib/cli/main.ts, and exits with the code it resolves (once stdout and stderr are flushed).

import { register } from 'tsx/esm/api';

register();

// `spool dlq list | head`: the reader went away; stop quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

/** Resolve once everything written to `stream` so far has been handed to the OS. */
const flushed = (stream) => new Promise((resolve) => stream.write('', () => resolve()));

let code;
try {
  const { main } = await import('../lib/cli/main.ts');
  code = await main(process.argv);
} catch (error) {
  process.stderr.write(`spool: could not start the CLI: ${error instanceof Error ? error.message : String(error)}\n`);
  code = 3;
}
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
