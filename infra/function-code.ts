/**
 * Where the code of spool's Lambda functions (the `TaskQueue` worker, the `TaskQueueHttpApi`
 * function) comes from: code given as is, or the esbuild bundle of the user's entry file. Nothing
 * here depends on where spool is installed: a relative entry resolves against the working directory
 * of the CDK app (as `NodejsFunction` resolves it), and the lockfile and project root are found by
 * walking up from the entry, unless the props name them.
 *
 * The validation rules of these props are written once here and used by both constructs, each with
 * its own prop names.
 *
 * @module
 */

import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * The lockfiles bundling looks for, from the entry's folder up: npm, pnpm, Yarn, and Bun's binary
 * and text lockfiles. The nearest folder holding one is the project root.
 */
export const LOCK_FILES = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lockb', 'bun.lock'] as const;

/** The entry extensions `NodejsFunction` bundles. */
const ENTRY_EXTENSION = /\.(jsx?|tsx?|cjs|cts|mjs|mts)$/;

/**
 * How spool's Lambda functions are bundled: one minified CommonJS file with the AWS SDK inside (local
 * Lambda emulators failed on an ESM bundle and on a missing SDK), with a source map
 * (NODE_OPTIONS=--enable-source-maps). ESM sources may read `import.meta.url`, which CommonJS lacks:
 * it is defined as the bundle's file URL.
 *
 * `better-sqlite3` is the one external. Only the embedded backend loads it, through `requirePeer`
 * (`createRequire(import.meta.url)(name)`), which esbuild does not follow, so no entry made of
 * `spool-tasks`, `spool-tasks/aws` and `spool-tasks/lambda` reaches it. It is a native addon that
 * cannot be bundled: marking it external keeps an entry that imports it anyway (say, a shared
 * module that also builds an embedded backend) bundling, and such a bundle fails only if it opens
 * SQLite on Lambda.
 */
export const LAMBDA_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.CJS,
  bundleAwsSDK: true,
  externalModules: ['better-sqlite3'],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // "use strict" first: the banner precedes esbuild's own directive, which then no longer counts.
  banner: '"use strict";const __spool_import_meta_url=require("node:url").pathToFileURL(__filename).href;',
  define: { 'import.meta.url': '__spool_import_meta_url' },
};

/** The parts of {@link LAMBDA_BUNDLING} that {@link lambdaBundling} keeps whatever it is given. */
const FIXED = {
  format: nodejs.OutputFormat.CJS,
  banner: LAMBDA_BUNDLING.banner ?? '',
  externalModules: LAMBDA_BUNDLING.externalModules ?? [],
  define: LAMBDA_BUNDLING.define ?? {},
} as const;

/**
 * Extra esbuild options for a function's bundle, applied over {@link LAMBDA_BUNDLING}: `nodeModules`,
 * `loader`, `esbuildArgs` (e.g. `{ '--conditions': 'my-condition' }`), `commandHooks`,
 * `forceDockerBundling` and the rest of `NodejsFunction`'s bundling options. `externalModules` are
 * added to spool's, `define` entries to spool's (spool's `import.meta.url` stays). The format
 * (CommonJS) and the banner (which defines `import.meta.url`) are spool's and cannot be changed.
 */
export type SpoolBundlingOptions = Omit<nodejs.BundlingOptions, 'format' | 'banner'>;

/** {@link LAMBDA_BUNDLING} with `extra` applied (see {@link SpoolBundlingOptions}). */
export function lambdaBundling(extra: SpoolBundlingOptions = {}): nodejs.BundlingOptions {
  return {
    ...LAMBDA_BUNDLING,
    ...extra,
    externalModules: [...FIXED.externalModules, ...(extra.externalModules ?? [])],
    define: { ...extra.define, ...FIXED.define },
    // After the spread, so that plain JavaScript callers cannot replace them either.
    format: FIXED.format,
    banner: FIXED.banner,
  };
}

/** A function's code as its construct's props give it. */
export interface FunctionSourceProps {
  /** The entry file, absolute or relative to the working directory. */
  readonly entry: string | undefined;
  /** Code to deploy instead of bundling the entry. */
  readonly code: lambda.Code | undefined;
  /** The lockfile, absolute or relative to the working directory; undefined: found from the entry. */
  readonly depsLockFilePath: string | undefined;
  /** The project root, absolute or relative to the working directory; undefined: the lockfile's folder. */
  readonly projectRoot: string | undefined;
  /** Extra bundling options. */
  readonly bundling: SpoolBundlingOptions | undefined;
}

/** {@link FunctionSourceProps} with the paths resolved. */
export interface ResolvedFunctionSource extends FunctionSourceProps {
  /** The working directory relative paths were resolved against. */
  readonly cwd: string;
  /** The entry's absolute path. */
  readonly entryPath: string | undefined;
  /**
   * The given lockfile's absolute path; else the lockfiles of the nearest folder above the entry
   * that holds any (one, unless the project is ambiguous); else none.
   */
  readonly lockFiles: readonly string[];
  /** The given project root's absolute path. */
  readonly projectRootPath: string | undefined;
}

/** Resolve a function's code props against `cwd` (the CDK app's working directory). */
export function resolveFunctionSource(props: FunctionSourceProps, cwd: string = process.cwd()): ResolvedFunctionSource {
  const entryPath = props.entry === undefined ? undefined : resolve(cwd, props.entry);
  const lockFiles =
    props.depsLockFilePath !== undefined
      ? [resolve(cwd, props.depsLockFilePath)]
      : entryPath !== undefined && props.code === undefined
        ? findLockFiles(dirname(entryPath))
        : [];
  return {
    ...props,
    cwd,
    entryPath,
    lockFiles,
    projectRootPath: props.projectRoot === undefined ? undefined : resolve(cwd, props.projectRoot),
  };
}

/**
 * The lockfiles ({@link LOCK_FILES}) of the nearest folder, from `dir` up, that holds any; `[]` when
 * no folder up to the file system's root does.
 */
export function findLockFiles(dir: string): string[] {
  for (let folder = resolve(dir); ; folder = dirname(folder)) {
    const found = LOCK_FILES.map((name) => join(folder, name)).filter(isFile);
    if (found.length > 0 || dirname(folder) === folder) return found;
  }
}

/** The `NodejsFunction` props of a function's code: the given code, or the bundle of its entry. */
export function functionCode(
  source: ResolvedFunctionSource,
): Pick<nodejs.NodejsFunctionProps, 'code' | 'handler' | 'entry' | 'bundling' | 'depsLockFilePath' | 'projectRoot'> {
  if (source.code !== undefined) return { code: source.code, handler: 'index.handler' };
  const [lockFile] = source.lockFiles;
  if (source.entryPath === undefined || lockFile === undefined) {
    // The rules refuse both before any construct is made.
    throw new Error('functionCode: the function source was not validated (no entry or no lockfile)');
  }
  return {
    entry: source.entryPath,
    depsLockFilePath: lockFile,
    projectRoot: source.projectRootPath ?? dirname(lockFile),
    handler: 'handler',
    bundling: lambdaBundling(source.bundling),
  };
}

/** The names a construct gives the props of its function's code, for the messages. */
export interface FunctionSourceNames {
  /** The entry prop, e.g. `workerEntry`. */
  readonly entry: string;
  /** The code prop, e.g. `workerCode`. */
  readonly code: string;
  /** What the entry module exports, e.g. "`handler`, made with `createSqsHandler` of spool-tasks/lambda". */
  readonly handler: string;
  /** An example entry path, e.g. `functions/worker.ts`. */
  readonly example: string;
}

/** A rule over a function's code props: `broken` says whether they break it, `message` explains how. */
export interface FunctionSourceRule {
  /** Whether the props break the rule. */
  readonly broken: (s: ResolvedFunctionSource) => boolean;
  /** What was given, what is allowed, how to fix it. */
  readonly message: (s: ResolvedFunctionSource) => string;
}

/** The rules of a function's code props, with a construct's prop names in the messages. */
export function functionSourceRules(n: FunctionSourceNames): readonly FunctionSourceRule[] {
  const bundles = (s: ResolvedFunctionSource) => s.entryPath !== undefined && s.code === undefined;
  const entryFound = (s: ResolvedFunctionSource) =>
    bundles(s) && s.entryPath !== undefined && ENTRY_EXTENSION.test(s.entryPath) && isFile(s.entryPath);
  const given = (s: ResolvedFunctionSource, path: string | undefined, absolute: string | undefined) =>
    path === absolute ? `'${path}'` : `'${path}' (${absolute}, relative to the working directory ${s.cwd})`;
  const lockFileNames = LOCK_FILES.join(', ');
  return [
    {
      broken: (s) => s.entry === undefined && s.code === undefined,
      message: (s) =>
        `neither ${n.entry} nor ${n.code} is set: the function needs its code. Pass ${n.entry}, the path of your entry ` +
        `file, a module exporting ${n.handler} (e.g. ${n.entry}: '${n.example}'; a relative path resolves against the ` +
        `working directory, ${s.cwd}, an absolute one such as join(import.meta.dirname, '${n.example}') does not ` +
        `depend on it). Or pass ${n.code} with a bundle built elsewhere (handler index.handler).`,
    },
    {
      broken: (s) => s.entry !== undefined && s.code !== undefined,
      message: () =>
        `both ${n.entry} and ${n.code} are set: ${n.code} replaces the bundle of ${n.entry}. Pass only one of them.`,
    },
    {
      broken: (s) => s.code !== undefined && (s.depsLockFilePath !== undefined || s.projectRoot !== undefined),
      message: (s) =>
        `${[
          s.depsLockFilePath === undefined ? [] : ['depsLockFilePath'],
          s.projectRoot === undefined ? [] : ['projectRoot'],
        ]
          .flat()
          .join(' and ')} set with ${n.code}: they only apply when bundling ${n.entry}. ` +
        `Remove them, or pass ${n.entry} instead of ${n.code}.`,
    },
    {
      broken: (s) => bundles(s) && s.entryPath !== undefined && !ENTRY_EXTENSION.test(s.entryPath),
      message: (s) =>
        `${n.entry} is ${given(s, s.entry, s.entryPath)}: esbuild bundles JavaScript or TypeScript entries only ` +
        '(.ts, .mts, .cts, .tsx, .js, .mjs, .cjs, .jsx). Pass the source file of your entry module.',
    },
    {
      broken: (s) =>
        bundles(s) && s.entryPath !== undefined && ENTRY_EXTENSION.test(s.entryPath) && !isFile(s.entryPath),
      message: (s) =>
        `${n.entry} is ${given(s, s.entry, s.entryPath)}: no such file. Pass the path of your entry file, absolute ` +
        `(e.g. join(import.meta.dirname, '${n.example}')) or relative to the folder you run cdk in (${s.cwd}).`,
    },
    {
      broken: (s) => bundles(s) && s.depsLockFilePath !== undefined && !isFile(s.lockFiles[0]),
      message: (s) =>
        `depsLockFilePath is ${given(s, s.depsLockFilePath, s.lockFiles[0])}: no such file. Pass your project's ` +
        `lockfile (one of ${lockFileNames}), or leave depsLockFilePath out to use the one nearest ${n.entry}.`,
    },
    {
      broken: (s) => entryFound(s) && s.depsLockFilePath === undefined && s.lockFiles.length === 0,
      message: (s) =>
        `no lockfile (${lockFileNames}) in ${dirname(s.entryPath ?? '')} or any folder above it: bundling ${n.entry} ` +
        "needs your project's lockfile, whose folder is the project root. Run your package manager's install in your " +
        'project to create one, or pass depsLockFilePath (and projectRoot, when the root is another folder).',
    },
    {
      broken: (s) => entryFound(s) && s.depsLockFilePath === undefined && s.lockFiles.length > 1,
      message: (s) =>
        `the nearest folder above ${n.entry} with a lockfile, ${dirname(s.lockFiles[0] ?? '')}, holds ${s.lockFiles.length}: ` +
        `${s.lockFiles.map((f) => basename(f)).join(', ')}, so the package manager is ambiguous. Pass depsLockFilePath ` +
        'naming the one your project uses (or delete the others).',
    },
    {
      broken: (s) => bundles(s) && s.projectRootPath !== undefined && !isDirectory(s.projectRootPath),
      message: (s) =>
        `projectRoot is ${given(s, s.projectRoot, s.projectRootPath)}: no such folder. Pass the folder of your ` +
        `project (the one holding its package.json and node_modules), or leave projectRoot out for the lockfile's folder.`,
    },
    {
      broken: (s) =>
        entryFound(s) &&
        s.projectRootPath !== undefined &&
        isDirectory(s.projectRootPath) &&
        outside(s.projectRootPath, s.entryPath),
      message: (s) =>
        `${n.entry} (${s.entryPath}) is outside projectRoot (${s.projectRootPath}): esbuild bundles from the project ` +
        `root. Pass a projectRoot that contains ${n.entry}, or leave it out for the lockfile's folder.`,
    },
    {
      broken: (s) =>
        entryFound(s) &&
        s.projectRootPath !== undefined &&
        isDirectory(s.projectRootPath) &&
        s.lockFiles.length === 1 &&
        isFile(s.lockFiles[0]) &&
        outside(s.projectRootPath, s.lockFiles[0]),
      message: (s) =>
        `the lockfile ${s.lockFiles[0]} is outside projectRoot (${s.projectRootPath}): bundling installs from the ` +
        'project root. Pass a projectRoot that contains the lockfile (in a monorepo, the workspace root), or ' +
        'pass the depsLockFilePath inside it.',
    },
  ];
}

/** Whether `path` is outside the folder `root`. */
function outside(root: string, path: string | undefined): boolean {
  const rel = relative(root, path ?? root);
  return rel.startsWith('..') || isAbsolute(rel);
}

/** Whether `path` is a file. */
function isFile(path: string | undefined): boolean {
  return path !== undefined && existsSync(path) && statSync(path).isFile();
}

/** Whether `path` is a folder. */
function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
