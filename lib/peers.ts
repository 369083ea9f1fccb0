/**
 * Optional peer dependencies: what spool needs only for some entry points (better-sqlite3 for the
 * embedded backend, the AWS SDK for the AWS backend, aws-cdk-lib for the constructs), loaded when
 * first used, with an error that says what to install when one is missing.
 *
 * @module
 */

import { createRequire } from 'node:module';
import { ConfigurationError } from './task/errors.js';

/** The optional peers, with what needs each and how to install it. */
export const OPTIONAL_PEERS = {
  'better-sqlite3': {
    neededBy: 'the embedded backend (spool-tasks/embedded, `spool dev`, `--db`)',
    install: 'npm install better-sqlite3',
  },
  '@aws-sdk/client-sqs': {
    neededBy: 'the AWS backend (spool-tasks/aws, `--backend aws`, `spool provision`)',
    install:
      'npm install @aws-sdk/client-sqs @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb @aws-sdk/util-dynamodb @aws-sdk/client-scheduler @aws-sdk/client-s3',
  },
} as const;

/** The name of an optional peer. */
export type OptionalPeer = keyof typeof OPTIONAL_PEERS;

/** Whether `error` says that `name` (or one of the AWS SDK packages, for the SDK) is not installed. */
export function isMissingPeer(error: unknown, name: OptionalPeer): boolean {
  if (!(error instanceof Error) || !('code' in error)) return false;
  if (error.code !== 'MODULE_NOT_FOUND' && error.code !== 'ERR_MODULE_NOT_FOUND') return false;
  const prefix = name.startsWith('@aws-sdk/') ? '@aws-sdk/' : name;
  return error.message.includes(`'${prefix}`) || error.message.includes(`"${prefix}`);
}

/** The error for a missing optional peer: what needs it and the command that installs it. */
export function missingPeerError(name: OptionalPeer, cause: unknown): ConfigurationError {
  const peer = OPTIONAL_PEERS[name];
  return new ConfigurationError(
    `${name} is not installed, and ${peer.neededBy} needs it. spool lists it as an optional peer dependency, so ` +
      `projects that do not use that part install nothing for it. Install it in your project: ${peer.install}`,
    { cause },
  );
}

/** `require` a CommonJS optional peer, or throw {@link missingPeerError}. */
export function requirePeer<T>(name: OptionalPeer): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (error) {
    if (isMissingPeer(error, name)) throw missingPeerError(name, error);
    throw error;
  }
}

/**
 * The AWS backend's modules (they import the AWS SDK), imported now, so that what only may need
 * them (the CLI, `spool-tasks/testing/local-aws`) starts without the SDK installed.
 *
 * @throws ConfigurationError ({@link missingPeerError}) when the AWS SDK clients are not installed.
 */
export async function importAwsModules() {
  try {
    const [backend, provision] = await Promise.all([import('./aws/backend.js'), import('./aws/provision.js')]);
    return { backend, provision };
  } catch (error) {
    if (isMissingPeer(error, '@aws-sdk/client-sqs')) throw missingPeerError('@aws-sdk/client-sqs', error);
    throw error;
  }
}
