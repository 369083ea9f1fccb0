/**
 * The version `spool --version` prints: the one in the package.json of `spool-tasks` that holds
 * the running CLI (`lib/cli` in a checkout, `dist/esm/lib/cli` or `dist/cjs/lib/cli` installed).
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package whose version the CLI reports. */
export const PACKAGE_NAME = 'spool-tasks';

/** What spool reads of its own package.json: its version, and the versions it is tested with. */
export interface OwnManifest {
  readonly version: string;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

/**
 * The package.json of the `spool-tasks` package this module belongs to, found by walking up from
 * its directory to the first package.json named {@link PACKAGE_NAME} (dist/esm/package.json, which
 * only sets the module type, is passed over).
 *
 * @throws Error when no such package.json is found above this module.
 */
export function ownManifest(from: string = import.meta.url): OwnManifest {
  const start = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest?.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest as OwnManifest;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `no package.json of ${PACKAGE_NAME} in ${start} or above it, so the version is unknown. ` +
      `Reinstall the package (npm install ${PACKAGE_NAME}).`,
  );
}

/** The version of the `spool-tasks` package this module belongs to (see {@link ownManifest}). */
export function packageVersion(from: string = import.meta.url): string {
  return ownManifest(from).version;
}

function readManifest(path: string): { readonly name?: unknown; readonly version?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
