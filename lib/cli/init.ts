/**
 * `spool init [dir]`: scaffold a working project on spool (see `init-templates.ts` for its files).
 * Then `npm install && npm run dev` runs it, and `npm test` tests it.
 *
 * @module
 */

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { INIT_DEPENDENCIES, INIT_DEV_DEPENDENCIES, initFiles } from './init-templates.js';
import { type CliContext, CliError, EXIT, line } from './output.js';
import { type OwnManifest, ownManifest } from './version.js';

interface InitFlags {
  readonly name?: string;
  readonly spoolSpec?: string;
  readonly force?: boolean;
}

/** npm's rule for a package name (lower case, URL-safe, at most 214 characters; scopes allowed). */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Register `spool init`. */
export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('Create a project on spool: tasks, an app, a Lambda worker, a CDK app and a test.')
    .argument('[dir]', 'the directory to create it in (created if missing; must be empty)', '.')
    .option('--name <name>', 'the package name (default: the directory name)')
    .option(
      '--spool-spec <spec>',
      'the spool-tasks dependency to write: a version range, or a path to a packed tarball (default: ^<this version>)',
    )
    .option('--force', 'write into a directory that is not empty (existing files with the same names are replaced)')
    .addHelpText(
      'after',
      '\nThen:\n  $ cd <dir> && npm install && npm run dev\n\nThe first install compiles better-sqlite3 where no prebuilt binary can be downloaded (a C++ toolchain and Python are needed then).',
    )
    .action((dir: string, flags: InitFlags) => {
      ctx.exit(init(ctx, dir, flags));
    });
}

function init(ctx: CliContext, dirArg: string, flags: InitFlags): number {
  const dir = resolve(ctx.cwd, dirArg);
  const name = flags.name ?? basename(dir).toLowerCase();
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new CliError(
      `spool init: ${JSON.stringify(name)} is not a valid npm package name (lower case letters, digits, '-', '.', '_' ` +
        "and '~', optionally @scope/; at most 214 characters). Pass one with --name, e.g. --name my-tasks.",
      EXIT.usage,
    );
  }
  if (existsSync(dir) && readdirSync(dir).length > 0 && flags.force !== true) {
    throw new CliError(
      `spool init: ${dir} is not empty. Pick a new directory (spool init my-tasks), or pass --force to write into it.`,
      EXIT.usage,
    );
  }
  let own: OwnManifest;
  try {
    own = ownManifest();
  } catch (error) {
    throw new CliError(`spool init: ${error instanceof Error ? error.message : String(error)}`, EXIT.backend);
  }
  const versions = Object.fromEntries(
    [...INIT_DEPENDENCIES, ...INIT_DEV_DEPENDENCIES].map((n) => [n, own.devDependencies?.[n] ?? 'latest']),
  );
  const spoolSpec = flags.spoolSpec === undefined ? `^${own.version}` : tarballSpec(flags.spoolSpec, ctx.cwd);
  const files = initFiles({ name, spoolSpec, versions });
  for (const [path, text] of Object.entries(files)) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  const shown = relative(ctx.cwd, dir) || '.';
  line(ctx.stdout, `Created a spool project in ${dir} (${Object.keys(files).length} files).`);
  line(ctx.stdout, '');
  line(ctx.stdout, 'Next:');
  if (shown !== '.') line(ctx.stdout, `  cd ${shown}`);
  line(ctx.stdout, '  npm install        # compiles better-sqlite3 if no prebuilt binary can be downloaded');
  line(ctx.stdout, '  npm run dev        # a worker on the embedded backend; Ctrl-C to stop');
  line(ctx.stdout, `  npm run enqueue -- '{"name":"Ada"}'   # in another terminal`);
  line(ctx.stdout, '  npm test');
  return EXIT.ok;
}

/** A path to a tarball as an absolute `file:` spec (npm resolves relative ones from the project). */
function tarballSpec(spec: string, cwd: string): string {
  const looksLikePath = spec.endsWith('.tgz') || spec.startsWith('.') || isAbsolute(spec);
  if (!looksLikePath) return spec;
  const path = resolve(cwd, spec.replace(/^file:/, ''));
  if (!existsSync(path)) {
    throw new CliError(
      `spool init: --spool-spec ${spec}: no file at ${path}. Pass a version range or the path of a tarball from npm pack.`,
      EXIT.usage,
    );
  }
  return `file:${path}`;
}
