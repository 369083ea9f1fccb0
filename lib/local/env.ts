/**
 * Environment variables printed for a user to paste, `eval` or load: POSIX shell `export` lines
 * and dotenv files (`node --env-file`, dotenv, docker compose).
 *
 * @module
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Credentials a local endpoint accepts (it checks none). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/** The region of a local endpoint unless told otherwise. */
export const LOCAL_REGION = 'us-east-1';

/**
 * The Scheduler role ARN given on a local endpoint, which checks no role: a placeholder in the
 * local account (000000000000), so that schedules and long delays work there.
 */
export const LOCAL_SCHEDULER_ROLE = 'arn:aws:iam::000000000000:role/spool-scheduler';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]*$/;

/** A value quoted for a POSIX shell (single quotes, unless it needs none). */
export function shellQuote(value: string): string {
  return SAFE.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `export KEY=value` lines for `eval "$(…)"` in sh, bash or zsh. */
export function shellExports(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([key, value]) => `export ${key}=${shellQuote(value)}\n`)
    .join('');
}

/** A dotenv file's text: `KEY=value` lines, double-quoted when a value needs it. */
export function dotenv(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([key, value]) => `${key}=${SAFE.test(value) ? value : JSON.stringify(value)}\n`)
    .join('');
}

/** Write `env` as a dotenv file at `path` (its directory is created). */
export function writeEnvFile(path: string, env: Readonly<Record<string, string>>, header?: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${header === undefined ? '' : `# ${header}\n`}${dotenv(env)}`);
}

/**
 * The environment of AWS clients on the local endpoint at `endpoint`: `AWS_ENDPOINT_URL`,
 * `AWS_REGION`, and the test credentials it accepts.
 */
export function localAwsEnvironment(endpoint: string, region: string = LOCAL_REGION): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}

/**
 * Whether `endpoint` is on this machine (127.0.0.1, localhost, ::1, or LocalStack's
 * `localhost.localstack.cloud` names, which resolve to 127.0.0.1).
 */
export function isLocalEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    return false;
  }
  return (
    host === 'localhost' ||
    host === '[::1]' ||
    /^127(\.\d{1,3}){3}$/.test(host) ||
    host === 'localhost.localstack.cloud' ||
    host.endsWith('.localhost.localstack.cloud')
  );
}
