#!/usr/bin/env node
// The `spool` command: the compiled CLI in dist/ (`npm run build` makes it in a checkout).

import { existsSync } from 'node:fs';

const cliUrl = new URL('../dist/esm/lib/cli/bin.js', import.meta.url);
if (!existsSync(cliUrl)) {
  process.stderr.write(
    `spool: the CLI is not built (${cliUrl.pathname} is missing). In a checkout of spool, run \`npm run build\`; ` +
      'from npm, reinstall the package (npm install spool-tasks).\n',
  );
  process.exit(3);
}
const cli = await import(cliUrl.href);
await cli.runCli();
