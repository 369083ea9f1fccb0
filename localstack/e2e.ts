/**
 * `npm run e2e:local`: the deployed stack, end to end, on a local endpoint of its own.
 *
 * 1. Start ministack on a free loopback port.
 * 2. `cdklocal bootstrap` + `cdklocal deploy` the example stack (`infra/app.ts`).
 * 3. Invoke the producer Lambda: it enqueues `orders.charge`; the worker Lambda runs it inside the
 *    emulator through its SQS event source mapping; the result is read from DynamoDB.
 * 4. Enqueue a receipt to an address that always bounces: the worker Lambda retries it, then
 *    dead-letters it; the dead-letter queue holds it with the reason.
 * 5. Destroy the stack and stop the endpoint.
 *
 * Exits 0 only if every step held. Prints a line per step, and the endpoint's log on failure.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createSpool, fireId, listDeadLetters, type ScheduleSpec, silentLogger } from 'spool-tasks';
import { openAwsBackend } from 'spool-tasks/aws';
import { defineOrderSchedules, defineOrderTasks } from '../examples/orders/app.js';
import { FakePayments, FlakyMail } from '../examples/orders/providers.js';
import { triggerOf } from '../lib/schedule/define.js';
import { fireGroup, fireTemplate, SCHEDULED_TIME_PLACEHOLDER } from '../lib/schedule/fire.js';
import { planIsEmpty, planSync } from '../lib/schedule/sync.js';
import { latestFire, nextFire } from '../lib/schedule/trigger.js';
import { deployExample, destroyExample, LOCAL_ENVIRONMENT } from './cdklocal.js';
import { freePort, type RunningEndpoint, startMinistack } from './ministack.js';

const verbose = process.argv.includes('--verbose');
const say = (line: string) => process.stdout.write(`${line}\n`);
const detail = (line: string) => {
  if (verbose) process.stderr.write(`  ${line}\n`);
};

/**
 * The schedule's latest fire at or before now. Within two minutes of the next fire it waits for
 * that one, so the fire is still the latest due one when the worker Lambda runs it.
 */
async function latestDueFire(spec: ScheduleSpec): Promise<number> {
  const trigger = triggerOf(spec);
  const next = nextFire(trigger, Date.now());
  if (next !== undefined && next - Date.now() < 120_000) {
    await new Promise((r) => setTimeout(r, next - Date.now() + 1000));
  }
  const at = latestFire(trigger, Date.now());
  if (at === undefined) throw new Error(`schedule '${spec.name}' has no fire before now`);
  return at;
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    const value = await run();
    say(`✔ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return value;
  } catch (error) {
    say(`✘ ${name}: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-e2e-'));
  let endpoint: RunningEndpoint | undefined;
  let deployed = false;
  let ok = false;
  const port = await freePort();
  try {
    endpoint = await step(`start ministack on 127.0.0.1:${port}`, () =>
      startMinistack({ port, logFile: join(dir, 'ministack.log') }),
    );
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    const outputs = await step('cdklocal bootstrap + deploy SpoolExampleStack', async () => {
      const out = await deployExample(port, join(dir, 'outputs.json'), detail);
      deployed = true;
      return out;
    });
    const region = LOCAL_ENVIRONMENT.region;
    const backend = openAwsBackend({
      queueUrl: outputs.QueueUrl,
      deadLetterQueueUrl: outputs.DeadLetterQueueUrl,
      tableName: outputs.TableName,
      bucketName: outputs.BucketName,
      scheduleGroup: outputs.ScheduleGroup,
      schedulerRoleArn: outputs.SchedulerRoleArn,
      region,
      endpoint: endpoint.endpoint,
    });
    const spool = createSpool({ backend, tasks: [], logger: silentLogger });
    const lambda = new LambdaClient({ region, endpoint: endpoint.endpoint });

    const taskId = await step('producer Lambda enqueues orders.charge', async () => {
      const res = await lambda.send(
        new InvokeCommand({
          FunctionName: outputs.ProducerFunctionName,
          Payload: Buffer.from(JSON.stringify({ orderId: 'order-e2e-1', amountCents: 4200 })),
        }),
      );
      const payload = JSON.parse(Buffer.from(res.Payload ?? new Uint8Array()).toString()) as { taskId?: string };
      if (res.FunctionError !== undefined || typeof payload.taskId !== 'string') {
        throw new Error(`producer failed: ${res.FunctionError ?? ''} ${JSON.stringify(payload)}`);
      }
      return payload.taskId;
    });

    await step('worker Lambda runs it through the event source mapping; the result is readable', async () => {
      const result = await spool.handle<{ chargeId: string }>(taskId, 'orders.charge').result({ timeoutMs: 60_000 });
      if (!result.chargeId.startsWith('ch_')) throw new Error(`unexpected result ${JSON.stringify(result)}`);
    });

    await step('a failing task is retried, then lands in the dead-letter queue with its reason', async () => {
      const { sendReceipt } = defineOrderTasks({ payments: new FakePayments(), mail: new FlakyMail() });
      const handle = await spool.enqueue(sendReceipt, { orderId: 'order-e2e-1', email: 'bounce@example.com' });
      await handle.result({ timeoutMs: 90_000 }).then(
        () => Promise.reject(new Error('the bounced receipt succeeded')),
        (error: unknown) => {
          if (!(error instanceof Error) || !/ended dead/.test(error.message)) throw error;
        },
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        const dead = await listDeadLetters(backend, { limit: 10 });
        const letter = dead.find((d) => d.taskId === handle.id);
        if (letter !== undefined) {
          if (!/mailbox bounce@example\.com does not exist/.test(letter.reason)) {
            throw new Error(`dead letter without the reason: ${letter.reason}`);
          }
          detail(`dead letter: ${letter.reason}`);
          break;
        }
        if (Date.now() > deadline) throw new Error('the dead letter did not arrive within 30 s');
        await new Promise((r) => setTimeout(r, 500));
      }
    });
    const tasks = defineOrderTasks({ payments: new FakePayments(), mail: new FlakyMail() });
    const scheduler = backend.scheduler;
    if (scheduler === undefined) throw new Error('the backend has no scheduler: the stack outputs lack ScheduleGroup');

    await step(
      "the stack's schedule is deployed as the code declares it: `schedules sync` finds nothing to change",
      async () => {
        const plan = planSync(defineOrderSchedules(tasks), await scheduler.list(), scheduler);
        if (!planIsEmpty(plan) || plan.unchanged.join() !== 'reconcile-orders') {
          throw new Error(`CDK and sync disagree: ${JSON.stringify(plan)}`);
        }
      },
    );

    await step('a fire message, as EventBridge Scheduler sends it, runs once in the worker Lambda', async () => {
      const [reconcile] = defineOrderSchedules(tasks);
      if (reconcile === undefined) throw new Error('no example schedule');
      // The latest fire due now: an older one is a missed run (only the latest due fire runs).
      const at = await latestDueFire(reconcile.spec);
      const body = fireTemplate(reconcile.spec).replace(SCHEDULED_TIME_PLACEHOLDER, new Date(at).toISOString());
      const message = { body, groupId: fireGroup(reconcile.name) };
      await backend.transport.tasks.send([
        { ...message, deduplicationId: 'e2e-fire-1' },
        { ...message, deduplicationId: 'e2e-fire-2' }, // Scheduler's retry, or a second scheduler
      ]);
      const result = await spool.handle<{ window: string }>(fireId(reconcile.name, at)).result({ timeoutMs: 60_000 });
      if (result.window !== 'daily') throw new Error(`unexpected result ${JSON.stringify(result)}`);
    });

    await step(
      'a run delayed past 15 minutes waits in an EventBridge Scheduler at() schedule, then runs in the worker Lambda',
      async () => {
        // A producer whose clock is 20 minutes behind: 5 s from now is a long delay to it.
        const producer = createSpool({ backend, tasks: [], logger: silentLogger, now: () => Date.now() - 1_200_000 });
        const runAt = Date.now() + 5000;
        const handle = await producer.enqueue(tasks.reconcileOrders, { window: 'weekly' }, { runAt });
        await handle.result({ timeoutMs: 90_000 });
        const started = (await handle.info())?.startedAt ?? 0;
        detail(`delayed run started ${started - runAt} ms after its time`);
        if (started < runAt) throw new Error(`the delayed run started ${runAt - started} ms early`);
      },
    );

    await spool.close();
    lambda.destroy();
    ok = true;
  } catch (error) {
    if (verbose && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    try {
      const log = readFileSync(join(dir, 'ministack.log'), 'utf8').split('\n').slice(-40).join('\n');
      process.stderr.write(`--- ministack log (last 40 lines) ---\n${log}\n`);
    } catch {
      // no log
    }
  } finally {
    if (deployed && endpoint !== undefined) {
      await step('cdklocal destroy SpoolExampleStack', () => destroyExample(port, detail)).catch(() => {
        ok = false;
      });
    }
    if (endpoint !== undefined) {
      const running = endpoint;
      await step('stop ministack', () => running.stop());
    }
    rmSync(dir, { recursive: true, force: true });
  }
  say(ok ? 'e2e:local passed' : 'e2e:local FAILED');
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `e2e:local crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
