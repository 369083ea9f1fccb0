/**
 * The backends the chaos suite runs on, opened through the package's public entry points: the
 * embedded backend on a SQLite file in the suite's temporary directory, and the AWS backend on
 * freshly provisioned resources of the local endpoint (ministack, started here and stopped by its
 * pid unless `AWS_ENDPOINT_URL` names one).
 *
 * @module
 */

import { join } from 'node:path';
import type { Backend } from 'spool-tasks';
import { freePort, type RunningEndpoint, startMinistack } from '../../localstack/ministack.js';

/** The backends. */
export type BackendName = 'embedded' | 'aws';

/** One backend of a suite run: the harness's side, and what its worker processes need. */
export interface ChaosBackend {
  readonly name: BackendName;
  /** The harness's backend (enqueue, follow runs). */
  readonly backend: Backend;
  /** Extra arguments of the worker script (after backend, ledger dir, lease, concurrency). */
  readonly workerArgs: readonly string[];
  /** The worker processes' environment. */
  readonly env: NodeJS.ProcessEnv;
  /** Close the backend, delete what was provisioned, stop what was started. */
  close(): Promise<void>;
}

/** The embedded backend on `<dir>/spool.db`. */
export async function openEmbedded(dir: string): Promise<ChaosBackend> {
  const { openEmbeddedBackend } = await import('spool-tasks/embedded');
  const path = join(dir, 'spool.db');
  const backend = openEmbeddedBackend({ path });
  return { name: 'embedded', backend, workerArgs: [path], env: process.env, close: async () => backend.close() };
}

/**
 * The AWS backend on resources provisioned for this run (`visibilityTimeoutSeconds` is the task
 * queue's default). `onStarted` hears of a ministack this starts (so Ctrl-C can stop it).
 */
export async function openAws(options: {
  readonly visibilityTimeoutSeconds: number;
  readonly log: (line: string) => void;
  readonly onStarted: (endpoint: RunningEndpoint) => void;
}): Promise<ChaosBackend> {
  // The SDK's notice about Node 20, from the harness and every worker process (each restart), is not news here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const aws = await import('spool-tasks/aws');
  let started: RunningEndpoint | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL || undefined;
  if (endpoint === undefined) {
    started = await startMinistack({ port: await freePort() });
    options.onStarted(started);
    endpoint = started.endpoint;
    options.log(`started ministack on ${endpoint} (pid ${started.pid})`);
  }
  const region = process.env.AWS_REGION || 'us-east-1';
  const credentials = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
  };
  const clients = aws.createClients({ region, endpoint, credentials });
  try {
    const prefix = `spool-chaos-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const resources = await aws.provisionResources(clients, {
      prefix,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    });
    const backend = aws.openAwsBackend({ ...aws.backendConfig(resources, { region, endpoint }), clients });
    const env = {
      ...process.env,
      ...aws.backendEnvironment(resources, { region, endpoint }),
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    return {
      name: 'aws',
      backend,
      workerArgs: [],
      env,
      async close() {
        await backend.close();
        await aws.deleteResources(clients, resources).catch(() => {});
        clients.sqs.destroy();
        clients.dynamodb.destroy();
        clients.s3?.destroy();
        await started?.stop();
      },
    };
  } catch (error) {
    clients.sqs.destroy();
    clients.dynamodb.destroy();
    clients.s3?.destroy();
    await started?.stop();
    throw error;
  }
}
