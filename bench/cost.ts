/**
 * `npm run bench:cost`: what a task costs on AWS, all in. On the local endpoint (ministack, started
 * here unless AWS_ENDPOINT_URL is set), with every SQS and DynamoDB request and capacity unit
 * counted (lib/aws/cost.ts) and every log byte the worker writes:
 *
 * - bulk: 1,000 no-op tasks enqueued at once and drained by the long-running worker (batches of 10),
 *   beside a naive design (SendMessage + ReceiveMessage + DeleteMessage per task, and
 *   PutItem + UpdateItem + GetItem);
 * - the worker Lambda's logs: the handler run in-process on batches of 10, wired as
 *   functions/worker.ts is (Powertools), plus Lambda's platform lines as the TaskQueue construct
 *   configures them; its event source mapping's idle polling, per month;
 * - a task retried once, and a duplicate delivery;
 * - a trickle: 1, 10 and 100 tasks a second, enqueued one by one, for the long-running worker.
 *
 * `--json`: the last line is one JSON object. `--tasks=N` (bulk), `--trickle-scale=F` (trickle
 * durations × F; default 1: 20 s, 6 s and 3 s).
 */

import { TASK_QUEUE_DEFAULTS } from '../infra/task-queue-props.js';
import { createClients, openAwsBackend } from '../lib/aws/backend.js';
import {
  allInUsdPerMillionTasks,
  ESM_IDLE_POLLING,
  esmIdleUsdPerMonth,
  lambdaPlatformLogBytes,
  logUsdPerMillionTasks,
  PRICES,
  RequestCounter,
  usdPerMillionTasks,
} from '../lib/aws/cost.js';
import { deleteResources, provisionResources } from '../lib/aws/provision.js';
import { freePort, type RunningEndpoint, startMinistack } from '../localstack/ministack.js';
import { bulk, duplicates, lambdaLogs, type PerTask, trickle } from './cost/phases.js';

const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const TASKS = Number(option('tasks') ?? 1000);
const TRICKLE_SCALE = Number(option('trickle-scale') ?? 1);
const TRICKLE_SECONDS: Record<1 | 10 | 100, number> = { 1: 20, 10: 6, 100: 3 };
const CONCURRENCY = 10;
const LAMBDA_TASKS = 100;
const SMALL = 50;
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
    const phase = { backend, counter, concurrency: CONCURRENCY };

    say(`bulk: ${TASKS} no-op tasks, long-running worker at concurrency ${CONCURRENCY}`);
    const b = await bulk(phase, TASKS);
    say(
      `lambda: ${LAMBDA_TASKS} tasks through the worker handler in batches of 10, metrics per attempt, then per invocation`,
    );
    const lambdaPerAttempt = await lambdaLogs(phase, LAMBDA_TASKS, 'attempt');
    const lambdaPerInvocation = await lambdaLogs(phase, LAMBDA_TASKS, 'invocation');
    say(`retried once: ${SMALL} tasks failing their first attempt`);
    const retried = await bulk(phase, SMALL, { failFirst: true });
    say(`duplicates: ${SMALL} tasks each delivered twice`);
    const duplicated = await duplicates(phase, SMALL);
    const trickles: Record<string, PerTask> = {};
    for (const rate of [1, 10, 100] as const) {
      const seconds = TRICKLE_SECONDS[rate] * TRICKLE_SCALE;
      say(`trickle: ${rate} task(s)/s for ${seconds} s`);
      trickles[rate] = await trickle(phase, rate, seconds);
    }

    // The deployed Lambda: one invocation per batch of 10, platform lines as the construct sets them.
    const platformBytes = lambdaPlatformLogBytes('JSON', TASK_QUEUE_DEFAULTS.workerSystemLogLevel as 'WARN');
    const platformBytesText = lambdaPlatformLogBytes('Text', 'INFO');
    const invocationsPerTask = lambdaPerInvocation.invocations / LAMBDA_TASKS;
    const lambdaLogBytes = (l: PerTask, platform: number) => l.logBytes + platform * invocationsPerTask;
    const logBytesPerTask = lambdaLogBytes(lambdaPerInvocation, platformBytes);
    const bulkCounts = { sqsRequests: b.sqsRequests, writeUnits: b.writeUnits, readUnits: b.readUnits };
    const allIn = (logBytes: number, invocations = invocationsPerTask) =>
      allInUsdPerMillionTasks({ ...bulkCounts, logBytes, invocations });
    const longRunningAllIn = (t: PerTask) => allInUsdPerMillionTasks({ ...t, invocations: 0 });
    const baseline = { sqsRequests: 3, writeUnits: 2, readUnits: 1 };
    const before = lambdaLogBytes(lambdaPerAttempt, platformBytesText);
    const result = {
      sqsRequestsPerTask: round(b.sqsRequests),
      dynamoWriteUnitsPerTask: round(b.writeUnits),
      dynamoReadUnitsPerTask: round(b.readUnits),
      usdPerMillionTasks: round(usdPerMillionTasks(bulkCounts)),
      baselineUsdPerMillionTasks: round(usdPerMillionTasks(baseline)),
      logBytesPerTask: round(logBytesPerTask),
      allInUsdPerMillionTasks: round(allIn(logBytesPerTask)),
      longRunning: {
        logBytesPerTask: round(b.logBytes),
        allInUsdPerMillionTasks: round(longRunningAllIn(b)),
        idleUsdPerMonth: round((((30 * 24 * 3600) / 20) * PRICES.sqsFifoRequest) / 1e6),
      },
      lambda: {
        logBytesPerTask: round(logBytesPerTask),
        platformLogBytesPerInvocation: platformBytes,
        invocationsPerTask: round(invocationsPerTask),
        perAttemptMetrics: {
          logBytesPerTask: round(lambdaLogBytes(lambdaPerAttempt, platformBytes)),
          allInUsdPerMillionTasks: round(allIn(lambdaLogBytes(lambdaPerAttempt, platformBytes))),
        },
        textLogsPerAttemptMetrics: { logBytesPerTask: round(before), allInUsdPerMillionTasks: round(allIn(before)) },
        idleUsdPerMonth: round(esmIdleUsdPerMonth()),
      },
      retriedOnce: perTaskJson(retried),
      duplicateDelivery: {
        sqsRequests: round(duplicated.sqsRequests - b.sqsRequests),
        writeUnits: round(duplicated.writeUnits - b.writeUnits),
        readUnits: round(duplicated.readUnits - b.readUnits),
      },
      trickle: Object.fromEntries(Object.entries(trickles).map(([rate, t]) => [rate, round(longRunningAllIn(t))])),
      trickleDetail: Object.fromEntries(Object.entries(trickles).map(([rate, t]) => [rate, perTaskJson(t)])),
    };

    const ops = (p: PerTask) =>
      [...p.requests.entries()]
        .sort()
        .map(([op, n]) => `  ${op.padEnd(40)} ${String(n).padStart(6)}  ${(n / p.tasks).toFixed(3)}/task`);
    const usd = (n: number) => `$${n.toFixed(3)}`;
    const lines = [
      '',
      `bulk: ${TASKS} tasks in ${b.seconds.toFixed(1)} s, long-running worker`,
      ...ops(b),
      '',
      `                          spool      naive baseline`,
      `SQS requests / task       ${result.sqsRequestsPerTask.toFixed(3).padStart(8)}   ${baseline.sqsRequests.toFixed(3).padStart(8)}`,
      `DynamoDB WCU / task       ${result.dynamoWriteUnitsPerTask.toFixed(3).padStart(8)}   ${baseline.writeUnits.toFixed(3).padStart(8)}`,
      `DynamoDB RCU / task       ${result.dynamoReadUnitsPerTask.toFixed(3).padStart(8)}   ${baseline.readUnits.toFixed(3).padStart(8)}`,
      `USD / million tasks       ${result.usdPerMillionTasks.toFixed(3).padStart(8)}   ${result.baselineUsdPerMillionTasks.toFixed(3).padStart(8)}   (requests and capacity only)`,
      '',
      'log bytes per task (happy path, default levels) and all-in USD per million tasks:',
      `  long-running worker (spool's JSON logger)            ${b.logBytes.toFixed(1).padStart(7)} B  ${b.logLines.toFixed(3)} lines  ${usd(result.longRunning.allInUsdPerMillionTasks)}`,
      `  Lambda, metrics per invocation, JSON + system WARN   ${logBytesPerTask.toFixed(1).padStart(7)} B  ${lambdaPerInvocation.logLines.toFixed(3)} lines  ${usd(result.allInUsdPerMillionTasks)}`,
      `  Lambda, metrics per attempt, JSON + system WARN      ${lambdaLogBytes(lambdaPerAttempt, platformBytes).toFixed(1).padStart(7)} B  ${lambdaPerAttempt.logLines.toFixed(3)} lines  ${usd(result.lambda.perAttemptMetrics.allInUsdPerMillionTasks)}`,
      `  Lambda, metrics per attempt, text + START/END/REPORT ${before.toFixed(1).padStart(7)} B  ${(lambdaPerAttempt.logLines + 3 * invocationsPerTask).toFixed(3)} lines  ${usd(result.lambda.textLogsPerAttemptMetrics.allInUsdPerMillionTasks)}`,
      `  (Lambda all-in: bulk requests and units + logs + ${invocationsPerTask.toFixed(2)} invocations per task; duration not included)`,
      `  idle: Lambda event source mapping ${usd(result.lambda.idleUsdPerMonth)}/month (${ESM_IDLE_POLLING.pollers} pollers × one ${ESM_IDLE_POLLING.waitSeconds} s long poll), long-running worker ${usd(result.longRunning.idleUsdPerMonth)}/month (one poller)`,
      '',
      `retried once (${SMALL} tasks): ${describe(retried)}`,
      ...ops(retried),
      `duplicate delivery, extra per duplicate: ${result.duplicateDelivery.sqsRequests.toFixed(3)} SQS requests, ${result.duplicateDelivery.writeUnits.toFixed(3)} WCU, ${result.duplicateDelivery.readUnits.toFixed(3)} RCU`,
      '',
      'trickle (long-running worker, tasks enqueued one by one):',
      ...Object.entries(trickles).map(
        ([rate, t]) =>
          `  ${rate.padStart(3)}/s: ${String(t.tasks).padStart(4)} tasks  ${describe(t)}  all-in ${usd(longRunningAllIn(t))}/M`,
      ),
      '',
      `prices (us-east-1, per million): SQS FIFO requests $${PRICES.sqsFifoRequest}, DynamoDB on-demand writes $${PRICES.dynamoWriteUnit}, reads $${PRICES.dynamoReadUnit}, Lambda invocations $${PRICES.lambdaInvocation}; CloudWatch Logs ingestion $${PRICES.logIngestionPerGB}/GB (10^9 bytes); compute duration not included`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await deleteResources(clients, resources);
    clients.sqs.destroy();
    clients.dynamodb.destroy();
    clients.s3?.destroy();
    await started?.stop();
  }
}

function describe(t: PerTask): string {
  const parts = [...t.requests.entries()]
    .filter(([op]) => op.startsWith('SQS.'))
    .map(([op, n]) => `${op.slice(4)} ${(n / t.tasks).toFixed(2)}`)
    .join(', ');
  return `${t.sqsRequests.toFixed(3)} SQS req (${parts}), ${t.writeUnits.toFixed(3)} WCU, ${t.readUnits.toFixed(3)} RCU, ${t.logBytes.toFixed(0)} log B per task`;
}

function perTaskJson(t: PerTask) {
  return {
    sqsRequests: round(t.sqsRequests),
    writeUnits: round(t.writeUnits),
    readUnits: round(t.readUnits),
    logBytes: round(t.logBytes),
    usdPerMillionTasks: round(usdPerMillionTasks(t) + logUsdPerMillionTasks(t.logBytes)),
  };
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
