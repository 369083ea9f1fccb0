#!/usr/bin/env node
// The `spool` command: the compiled CLI in dist/ (`npm run build` makes it in a checkout).

let cli;
try {
  cli = await import('../dist/esm/lib/cli/bin.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('cli/bin.js')) {
    process.stderr.write(
      'spool: the CLI is not built (dist/esm/lib/cli/bin.js is missing). In a checkout of spool, run `npm run build`; ' +
        'from npm, reinstall the package (npm install spool-tasks).\n',
    );
    process.exit(3);
  }
  throw error;
}
await cli.runCli();
