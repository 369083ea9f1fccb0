/**
 * Running the CDK CLI against a local endpoint (aws-cdk-local's `cdklocal`): bootstrap, deploy,
 * destroy. The endpoint's names under `localhost.localstack.cloud` (including S3 virtual hosts of
 * the bootstrap bucket) resolve to 127.0.0.1 through a preload, so no DNS or /etc/hosts is needed.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
/** The account and region of the local endpoint. */
export const LOCAL_ENVIRONMENT = { account: '000000000000', region: 'us-east-1' } as const;
/** The example stack `infra/app.ts` defines. */
export const EXAMPLE_STACK = 'SpoolExampleStack';

/** The environment for `cdklocal` against the endpoint on `port`. */
export function cdklocalEnv(port: number): NodeJS.ProcessEnv {
  const preload = join(ROOT, 'localstack', 'resolve-localstack.cjs');
  return {
    ...process.env,
    EDGE_PORT: String(port),
    AWS_ENDPOINT_URL: `http://localhost.localstack.cloud:${port}`,
    AWS_ENDPOINT_URL_S3: `http://s3.localhost.localstack.cloud:${port}`,
    AWS_REGION: LOCAL_ENVIRONMENT.region,
    AWS_DEFAULT_REGION: LOCAL_ENVIRONMENT.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // Quoted as Node's NODE_OPTIONS parser reads it (double quotes; `\` and `"` escaped inside),
    // so a checkout under a path with spaces or backslashes (Windows) still loads the preload.
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${nodeOptionsQuote(preload)}`.trim(),
    CDK_DISABLE_VERSION_CHECK: '1',
  };
}

/** A value quoted for NODE_OPTIONS: in double quotes, with `\` and `"` escaped by a backslash. */
export function nodeOptionsQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * Run `cdklocal <args>`; rejects with the command's tail of output when it fails. Runs aws-cdk-local's
 * JS entry with this Node (`process.execPath`), not `node_modules/.bin/cdklocal`: on Windows that is
 * `cdklocal.cmd`, which Node ≥ 20.12.2 refuses to spawn without a shell (EINVAL).
 */
export function cdklocal(args: readonly string[], port: number, log: (line: string) => void = () => {}): Promise<void> {
  const entry = join(ROOT, 'node_modules', 'aws-cdk-local', 'bin', 'cdklocal');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: ROOT,
      env: cdklocalEnv(port),
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const lines: string[] = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        log(line);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`cdklocal ${args.join(' ')} exited ${code}:\n${lines.slice(-30).join('\n')}`));
    });
  });
}

/** Stack outputs of the example stack, as `cdk deploy --outputs-file` wrote them. */
export interface ExampleOutputs {
  readonly QueueUrl: string;
  readonly DeadLetterQueueUrl: string;
  readonly TableName: string;
  readonly BucketName: string;
  readonly WorkerFunctionName: string;
  readonly ProducerFunctionName: string;
  readonly DashboardName: string;
  readonly ScheduleGroup: string;
  readonly SchedulerRoleArn: string;
}

/** Bootstrap the local account and deploy the example stack; resolves its outputs. */
export async function deployExample(
  port: number,
  outputsFile: string,
  log?: (line: string) => void,
): Promise<ExampleOutputs> {
  const env = `aws://${LOCAL_ENVIRONMENT.account}/${LOCAL_ENVIRONMENT.region}`;
  await cdklocal(['bootstrap', env], port, log);
  await cdklocal(['deploy', EXAMPLE_STACK, '--require-approval', 'never', '--outputs-file', outputsFile], port, log);
  const outputs = JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, ExampleOutputs>;
  const stack = outputs[EXAMPLE_STACK];
  if (stack === undefined) throw new Error(`${outputsFile} has no outputs for ${EXAMPLE_STACK}`);
  return stack;
}

/** Destroy the example stack. */
export function destroyExample(port: number, log?: (line: string) => void): Promise<void> {
  return cdklocal(['destroy', EXAMPLE_STACK, '--force'], port, log);
}
