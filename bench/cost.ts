/**
 * `npm run bench:cost`: what a task costs on AWS. Runs 1,000 no-op tasks through SQS FIFO +
 * DynamoDB on the local endpoint (ministack, started here unless AWS_ENDPOINT_URL is set) with the
 * long-running worker, counts every request and capacity unit, and prices them at list prices
 * beside a naive design (SendMessage + ReceiveMessage + DeleteMessage per task, and
 * PutItem + UpdateItem + GetItem). `--json`: the last line is one JSON object.
 */

import { z } from 'zod';
import { createClients, openAwsBackend } from '../lib/aws/backend.js';
import { PRICES, RequestCounter, usdPerMillionTasks } from '../lib/aws/cost.js';
import { deleteResources, provisionResources } from '../lib/aws/provision.js';
import { createSpool } from '../lib/client/spool.js';
import { silentLogger } from '../lib/log/logger.js';
import { defineTask } from '../lib/task/define.js';
import { freePort, type RunningEndpoint, startMinistack } from '../localstack/ministack.js';

const TASKS = Number(process.argv.find((a) => a.startsWith('--tasks='))?.slice(8) ?? 1000);
const CONCURRENCY = 10;
const json = process.argv.includes('--json');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  let started: RunningEndpoint | undefined;
  let endpoint = process.env.AWS_ENDPOINT_URL;
  if (endpoint === undefined) {
    started = await startMinistack({ port: await freePort() });
    endpoint = started.endpoint;
    say(`started ministack on ${endpoint} (pid ${started.pid})`);
  }
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const clients = createClients({ region, endpoint });
  const resources = await provisionResources(clients, { prefix: `spool-cost-${Date.now().toString(36)}` });
  try {
    const counter = new RequestCounter();
    counter.attach(clients.sqs, 'SQS');
    counter.attach(clients.dynamodb, 'DynamoDB');
    const backend = openAwsBackend({ ...resources, region, endpoint, clients });
    let done = 0;
    const noop = defineTask({ name: 'noop', schema: z.object({ i: z.number() }), handler: () => void done++ });
    const spool = createSpool({ backend, tasks: [noop], logger: silentLogger });
    say(`${TASKS} no-op tasks, long-running worker at concurrency ${CONCURRENCY}`);
    await spool.enqueueMany(
      noop,
      Array.from({ length: TASKS }, (_, i) => ({ i })),
    );
    const worker = spool.worker({ concurrency: CONCURRENCY, waitTimeSeconds: 20 });
    const t0 = Date.now();
    await worker.start();
    while (done < TASKS) await new Promise((r) => setTimeout(r, 20));
    await worker.stop();
    const seconds = (Date.now() - t0) / 1000;
    const perTask = {
      sqsRequests: counter.total('SQS') / TASKS,
      writeUnits: counter.dynamoWriteUnits / TASKS,
      readUnits: counter.dynamoReadUnits / TASKS,
    };
    const baseline = { sqsRequests: 3, writeUnits: 2, readUnits: 1 };
    const result = {
      sqsRequestsPerTask: round(perTask.sqsRequests),
      dynamoWriteUnitsPerTask: round(perTask.writeUnits),
      dynamoReadUnitsPerTask: round(perTask.readUnits),
      usdPerMillionTasks: round(usdPerMillionTasks(perTask)),
      baselineUsdPerMillionTasks: round(usdPerMillionTasks(baseline)),
    };
    const lines = [
      '',
      `spool on SQS FIFO + DynamoDB: ${TASKS} tasks in ${seconds.toFixed(1)} s`,
      '',
      'requests by operation:',
      ...[...counter.requests.entries()]
        .sort()
        .map(([op, n]) => `  ${op.padEnd(40)} ${String(n).padStart(6)}  ${(n / TASKS).toFixed(3)}/task`),
      '',
      `                          spool      naive baseline`,
      `SQS requests / task       ${result.sqsRequestsPerTask.toFixed(3).padStart(8)}   ${baseline.sqsRequests.toFixed(3).padStart(8)}`,
      `DynamoDB WCU / task       ${result.dynamoWriteUnitsPerTask.toFixed(3).padStart(8)}   ${baseline.writeUnits.toFixed(3).padStart(8)}`,
      `DynamoDB RCU / task       ${result.dynamoReadUnitsPerTask.toFixed(3).padStart(8)}   ${baseline.readUnits.toFixed(3).padStart(8)}`,
      `USD / million tasks       ${result.usdPerMillionTasks.toFixed(3).padStart(8)}   ${result.baselineUsdPerMillionTasks.toFixed(3).padStart(8)}`,
      '',
      `prices (us-east-1, per million): SQS FIFO requests $${PRICES.sqsFifoRequest}, DynamoDB on-demand writes $${PRICES.dynamoWriteUnit}, reads $${PRICES.dynamoReadUnit}; worker compute not included`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    await spool.close();
  } finally {
    await deleteResources(clients, resources);
    clients.sqs.destroy();
    clients.dynamodb.destroy();
    await started?.stop();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:cost failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
