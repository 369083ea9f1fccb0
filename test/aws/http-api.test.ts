/**
 * The function URL handler (lib/aws/http-api.ts) in-process, on the embedded backend with the
 * example tasks and a worker, driven by synthetic function URL events (payload format 2.0).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import {
  ConfigurationError,
  createProducer,
  createSpool,
  EnqueueError,
  type LogFields,
  type Logger,
  SPOOL_ERROR_CODES,
  type Spool,
  type SpoolErrorCode,
  silentLogger,
  type Worker,
} from 'spool-tasks';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { createHttpHandler, type HttpResponse } from 'spool-tasks/lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineOrderTasks } from '../../examples/orders/app.js';
import { FakePayments, FlakyMail } from '../../examples/orders/providers.js';
import {
  type ExposedTask,
  HTTP_STATUS_BY_ERROR_CODE,
  type HttpProducer,
  iamPrincipal,
  MAX_ECHO,
} from '../../lib/aws/http-api.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let dbs = 0;
function exampleSpool(logger: Logger = silentLogger): Spool {
  const tasks = defineOrderTasks({ payments: new FakePayments(), mail: new FlakyMail() });
  return createSpool({
    backend: openEmbeddedBackend({ path: join(dir, `http-${dbs++}.db`) }),
    tasks: Object.values(tasks),
    logger,
  });
}

/** The principals of the tests: two roles' sessions of one account. */
const ALICE = 'arn:aws:sts::123456789012:assumed-role/checkout/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/billing/bob';

/** The example app's tasks as the tests expose them: all but the scheduled orders.reconcile. */
const EXPOSE: Readonly<Record<string, ExposedTask>> = {
  'orders.charge': { orderingKeys: true },
  'receipts.send': { sharedIdempotencyKeys: true },
  'reports.monthly': { results: 'any-caller' },
};

/** The IAM identity Lambda puts in a function URL event for a request signed by `userArn`. */
function iam(userArn: string): LambdaFunctionURLEventWithIAMAuthorizer['requestContext']['authorizer'] {
  return {
    iam: {
      accessKey: 'ASIAEXAMPLE',
      accountId: '123456789012',
      callerId: `AROAEXAMPLE:${userArn.split('/').at(-1)}`,
      cognitoIdentity: null,
      principalOrgId: 'o-example',
      userArn,
      userId: `AROAEXAMPLE:${userArn.split('/').at(-1)}`,
    },
  };
}

/**
 * A function URL event as Lambda builds it (headers lower-case), signed by `caller` (default
 * {@link ALICE}; `null`: no IAM identity, as with auth type NONE).
 */
function request(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; base64?: boolean; caller?: string | null } = {},
): LambdaFunctionURLEvent | LambdaFunctionURLEventWithIAMAuthorizer {
  const caller = options.caller === undefined ? ALICE : options.caller;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'abc.lambda-url.eu-west-1.on.aws', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
      requestId: 'req-42',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
      ...(caller === null ? {} : { authorizer: iam(caller) }),
    },
    isBase64Encoded: options.base64 ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
  };
}

const post = (task: string, args: unknown, headers: Record<string, string> = {}, caller: string | null = ALICE) =>
  request('POST', `/tasks/${task}`, { body: typeof args === 'string' ? args : JSON.stringify(args), headers, caller });

/** The answer's body, parsed, after checking it is JSON. */
function json(response: HttpResponse): Record<string, unknown> {
  expect(response.headers['content-type']).toBe('application/json');
  return JSON.parse(response.body) as Record<string, unknown>;
}

describe('GIVEN the HTTP handler over the example app with a worker running', () => {
  let spool: Spool;
  let worker: Worker;
  let handler: ReturnType<typeof createHttpHandler>;

  beforeAll(async () => {
    spool = exampleSpool();
    worker = spool.worker({ waitTimeSeconds: 1, concurrency: 4 });
    await worker.start();
    handler = createHttpHandler(() => spool, { expose: EXPOSE });
  });
  afterAll(async () => {
    await worker.stop();
    await spool.close();
  });

  /** GET the run's status (as `caller`) until `done` says so. */
  async function waitForStatus(id: string, done: (body: Record<string, unknown>) => boolean, caller = ALICE) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = json(await handler(request('GET', `/tasks/${id}`, { caller })));
      if (done(body) || Date.now() > deadline) return body;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('WHEN a task is POSTed THEN 202 with the id, the task, existing and the status path', async () => {
    const response = await handler(post('orders.charge', { orderId: 'o-1', amountCents: 1200 }));
    expect(response.statusCode).toBe(202);
    const body = json(response);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      task: 'orders.charge',
      existing: false,
      status: `/tasks/${String(body.id)}`,
    });
    expect(response.headers.location).toBe(body.status);
  });

  it('WHEN its status is read THEN it ends succeeded with the result, attempt and timestamps', async () => {
    const enqueued = json(await handler(post('orders.charge', { orderId: 'o-2', amountCents: 500 })));
    const id = String(enqueued.id);
    const body = await waitForStatus(id, (b) => b.state === 'succeeded');
    expect(body).toEqual({
      id,
      task: 'orders.charge',
      state: 'succeeded',
      attempt: 1,
      result: { chargeId: `ch_${id.slice(0, 10)}` },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('WHEN a task reports progress THEN the status carries the last progress value', async () => {
    const enqueued = json(await handler(post('reports.monthly', { month: '2026-01', requestedBy: 'ops' })));
    const body = await waitForStatus(String(enqueued.id), (b) => b.state === 'succeeded');
    expect(body).toMatchObject({ state: 'succeeded', progress: { step: 3, of: 3 }, result: { month: '2026-01' } });
  });

  it('WHEN the same Idempotency-Key is sent with other arguments THEN the same run id comes back', async () => {
    const key = { 'idempotency-key': 'checkout-7f3a' };
    const first = json(await handler(post('orders.charge', { orderId: 'o-3', amountCents: 100 }, key)));
    const again = json(await handler(post('orders.charge', { orderId: 'o-4', amountCents: 999 }, key)));
    expect(again.id).toBe(first.id);
    const other = json(await handler(post('orders.charge', { orderId: 'o-3', amountCents: 100 })));
    expect(other.id).not.toBe(first.id); // without the key, the task's own key (orderId) decides
  });

  it('WHEN a unique task is POSTed twice while the first is under way THEN the second answers existing: true', async () => {
    const args = { month: '2026-02', requestedBy: 'ops' };
    const first = json(await handler(post('reports.monthly', args)));
    const second = json(await handler(post('reports.monthly', { ...args, requestedBy: 'someone else' })));
    expect(second).toMatchObject({ id: first.id, existing: true });
  });

  it('WHEN the headers are mixed-case or the body is base64 THEN they are understood', async () => {
    const body = Buffer.from(JSON.stringify({ orderId: 'o-5', amountCents: 1 })).toString('base64');
    const response = await handler(
      request('POST', '/tasks/orders.charge', { body, base64: true, headers: { 'X-Ordering-Key': 'customer-9' } }),
    );
    expect(response.statusCode).toBe(202);
  });

  it('WHEN the arguments fail the schema THEN 422 with the message and the issues', async () => {
    const response = await handler(post('orders.charge', { orderId: '', amountCents: -5 }));
    expect(response.statusCode).toBe(422);
    const body = json(response);
    expect(body.error).toBe('ValidationError');
    expect(body.message).toMatch(/^Invalid arguments for task 'orders.charge' at enqueue: .*Nothing was enqueued/);
    expect(body.issues).toEqual([
      { path: 'orderId', message: expect.any(String) },
      { path: 'amountCents', message: expect.any(String) },
    ]);
  });

  it('WHEN the body is not JSON THEN 400 with the parse error', async () => {
    const response = await handler(post('orders.charge', '{"orderId": "o-6",'));
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      error: 'BadRequest',
      message: expect.stringMatching(
        /^The body is not JSON: .+\. Send the arguments of task 'orders.charge' as a JSON/,
      ),
    });
  });

  it('WHEN the body is empty THEN 400 saying to send the arguments', async () => {
    const response = await handler(request('POST', '/tasks/orders.charge'));
    expect(response.statusCode).toBe(400);
    expect(json(response).message).toMatch(/^The body is empty\./);
  });

  it('WHEN the task is unknown, or registered but not exposed, THEN the same 404, naming no task', async () => {
    for (const name of ['orders.refund', 'orders.reconcile']) {
      const response = await handler(post(name, { window: 'daily' }));
      expect(response.statusCode).toBe(404);
      const body = json(response);
      expect(body).toEqual({
        error: 'NotFound',
        message: expect.stringMatching(/^No task of that name is exposed by this API: ".+"\. .*expose option/),
      });
      for (const other of ['orders.charge', 'orders.reconcile', 'receipts.send', 'reports.monthly']) {
        if (other !== name) expect(response.body).not.toContain(other);
      }
    }
  });

  it('WHEN another principal reads a run THEN it gets only the id and the state, while the enqueuer gets the result', async () => {
    const enqueued = json(await handler(post('orders.charge', { orderId: 'o-40', amountCents: 700 })));
    const id = String(enqueued.id);
    const mine = await waitForStatus(id, (b) => b.state === 'succeeded');
    expect(mine).toMatchObject({ task: 'orders.charge', state: 'succeeded', result: { chargeId: expect.any(String) } });
    const theirs = json(await handler(request('GET', `/tasks/${id}`, { caller: BOB })));
    expect(theirs).toEqual({
      id,
      state: 'succeeded',
      note: expect.stringMatching(/^Only the principal that enqueued/),
    });
    // Another session of the same role is another principal (callerPrincipal can make the role one).
    const sameRole = json(await handler(request('GET', `/tasks/${id}`, { caller: `${ALICE.slice(0, -5)}carol` })));
    expect(Object.keys(sameRole).sort()).toEqual(['id', 'note', 'state']);
  });

  it("WHEN the task is exposed with results: 'any-caller' THEN another principal reads the result too", async () => {
    const enqueued = json(await handler(post('reports.monthly', { month: '2026-05', requestedBy: 'ops' })));
    const body = await waitForStatus(String(enqueued.id), (b) => b.state === 'succeeded', BOB);
    expect(body).toMatchObject({ task: 'reports.monthly', state: 'succeeded', result: { month: '2026-05' } });
  });

  it('WHEN two principals send the same Idempotency-Key THEN they get two runs, each readable by its enqueuer', async () => {
    const key = { 'idempotency-key': 'checkout-shared-9' };
    const alices = json(await handler(post('orders.charge', { orderId: 'o-41', amountCents: 100 }, key, ALICE)));
    const bobs = json(await handler(post('orders.charge', { orderId: 'o-42', amountCents: 999 }, key, BOB)));
    expect(bobs.id).not.toBe(alices.id);
    const again = json(await handler(post('orders.charge', { orderId: 'o-41', amountCents: 100 }, key, ALICE)));
    expect(again.id).toBe(alices.id);
    const bobsRun = await waitForStatus(String(bobs.id), (b) => b.state === 'succeeded', BOB);
    expect(bobsRun).toMatchObject({ state: 'succeeded', result: { chargeId: `ch_${String(bobs.id).slice(0, 10)}` } });
  });

  it('WHEN the task is exposed with sharedIdempotencyKeys THEN two principals sending one key get one run', async () => {
    const key = { 'idempotency-key': 'receipt-o-43' };
    const args = { orderId: 'o-43', email: 'ada@example.com' };
    const alices = json(await handler(post('receipts.send', args, key, ALICE)));
    const bobs = json(await handler(post('receipts.send', args, key, BOB)));
    expect(bobs.id).toBe(alices.id);
  });

  it('WHEN X-Ordering-Key is sent for a task not exposed with orderingKeys THEN 400 naming the option', async () => {
    const response = await handler(
      post('receipts.send', { orderId: 'o-44', email: 'ada@example.com' }, { 'x-ordering-key': 'customer-9' }),
    );
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({
      error: 'BadRequest',
      message: expect.stringMatching(/^Task 'receipts.send' takes no X-Ordering-Key .*orderingKeys: true/),
    });
  });

  it('WHEN a request carries no IAM identity THEN 403, on every route, and nothing is enqueued', async () => {
    const enqueued = json(await handler(post('orders.charge', { orderId: 'o-45', amountCents: 1 })));
    for (const event of [
      post('orders.charge', { orderId: 'o-46', amountCents: 1 }, {}, null),
      request('GET', `/tasks/${String(enqueued.id)}`, { caller: null }),
      request('GET', '/', { caller: null }),
    ]) {
      const response = await handler(event);
      expect(response.statusCode).toBe(403);
      expect(json(response)).toEqual({
        error: 'Forbidden',
        message: expect.stringMatching(/^The request carries no caller identity .*AWS_IAM/),
      });
    }
  });

  it('WHEN the arguments would exceed the maximum THEN 413', async () => {
    const response = await handler(post('orders.charge', { orderId: 'x'.repeat(33_600_000), amountCents: 1 }));
    expect(response.statusCode).toBe(413);
    expect(json(response)).toEqual({
      error: 'PayloadTooLarge',
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringMatching(/the limit is \d+ bytes/),
    });
  });

  it('WHEN X-Ordering-Key is not allowed THEN 400 with the reason from enqueue', async () => {
    const response = await handler(
      post('orders.charge', { orderId: 'o-8', amountCents: 1 }, { 'x-ordering-key': 'a b' }),
    );
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({
      error: 'BadRequest',
      message: expect.stringMatching(/orderingKey "a b" is not allowed/),
    });
  });

  it('WHEN a header is too long THEN 400, repeating at most 200 characters of it', async () => {
    const response = await handler(
      post('orders.charge', { orderId: 'o-9', amountCents: 1 }, { 'idempotency-key': 'k'.repeat(5000) }),
    );
    expect(response.statusCode).toBe(400);
    expect(json(response).message).toMatch(/idempotency-key header is 5000 characters .* it must be 1 to 256/);
    expect(response.body).not.toContain('k'.repeat(MAX_ECHO + 1));
  });

  it('WHEN an id was never enqueued THEN 200 queued with a note saying why', async () => {
    const response = await handler(request('GET', `/tasks/${'0'.repeat(32)}`));
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({
      id: '0'.repeat(32),
      task: null,
      state: 'queued',
      attempt: 0,
      note: expect.stringMatching(/no record of this id yet/),
    });
  });

  it('WHEN the id is invalid THEN 400, repeating at most 200 characters of it', async () => {
    const response = await handler(request('GET', `/tasks/${'bad id!'.repeat(100)}`));
    expect(response.statusCode).toBe(400);
    expect(json(response).message).toMatch(/is not a task id: an id is 1–128 characters of \[A-Za-z0-9_.:-\]/);
    expect(response.body.length).toBeLessThan(500);
  });

  it('WHEN the method is neither GET nor POST THEN 405 with an allow header', async () => {
    const response = await handler(request('DELETE', '/tasks/abc'));
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('GET, POST');
    expect(json(response).error).toBe('MethodNotAllowed');
  });

  it('WHEN the path is not a route THEN 404 naming the routes', async () => {
    for (const path of ['/', '/tasks', '/tasks/', '/jobs/abc']) {
      const response = await handler(request('GET', path));
      expect(response.statusCode).toBe(404);
      expect(json(response).message).toMatch(/The routes are POST \/tasks\/\{taskName\}/);
    }
  });

  it('WHEN the path is not valid percent-encoding THEN 400', async () => {
    const response = await handler(request('GET', '/tasks/%E0%A4%A'));
    expect(response.statusCode).toBe(400);
  });
});

describe('GIVEN the HTTP handler over an app with no worker running', () => {
  let spool: Spool;
  beforeAll(() => {
    spool = exampleSpool();
  });
  afterAll(() => spool.close());

  it('WHEN a run is enqueued and not started THEN its status is queued, with the note', async () => {
    const handler = createHttpHandler(spool, { expose: EXPOSE });
    const enqueued = json(await handler(post('orders.charge', { orderId: 'o-10', amountCents: 1 })));
    const body = json(await handler(request('GET', String(enqueued.status))));
    expect(body).toMatchObject({ id: enqueued.id, state: 'queued', attempt: 0, note: expect.any(String) });
  });

  it('WHEN enqueue fails unexpectedly THEN 500 with a generic message and the request id, and the error is logged', async () => {
    const logged: { message: string; fields: LogFields | undefined }[] = [];
    const logger: Logger = { ...silentLogger, error: (message, fields) => logged.push({ message, fields }) };
    let made = 0;
    const handler = createHttpHandler(
      () => {
        made++;
        return {
          ...spool,
          enqueue: () => Promise.reject(new Error('DynamoDB exploded: secret table arn')),
        };
      },
      { expose: EXPOSE, logger },
    );
    const response = await handler(post('orders.charge', { orderId: 'o-11', amountCents: 1 }));
    expect(response.statusCode).toBe(500);
    const body = json(response);
    expect(body).toEqual({ error: 'InternalError', message: expect.stringContaining('req-42'), requestId: 'req-42' });
    expect(response.body).not.toContain('exploded');
    expect(logged).toEqual([
      {
        message: 'http api: request failed',
        fields: expect.objectContaining({ requestId: 'req-42', error: expect.any(Error) }),
      },
    ]);
    await handler(request('GET', `/tasks/${'1'.repeat(32)}`));
    expect(made).toBe(1); // the app is made once and reused
  });

  it('WHEN invoked with a Lambda context THEN onInvocation sees it first', async () => {
    const seen: string[] = [];
    const handler = createHttpHandler(spool, {
      expose: EXPOSE,
      onInvocation: (context) => seen.push(context.awsRequestId),
    });
    const context = { awsRequestId: 'lambda-req-1' } as Context;
    expect((await handler(request('GET', `/tasks/${'3'.repeat(32)}`), context)).statusCode).toBe(200);
    expect(seen).toEqual(['lambda-req-1']);
  });

  it('WHEN making the app fails THEN 500, and the next request tries again', async () => {
    let attempts = 0;
    const handler = createHttpHandler(
      () => {
        attempts++;
        if (attempts === 1) throw new Error('SPOOL_TABLE is not set');
        return spool;
      },
      { expose: EXPOSE, logger: silentLogger },
    );
    expect((await handler(request('GET', `/tasks/${'2'.repeat(32)}`))).statusCode).toBe(500);
    expect((await handler(request('GET', `/tasks/${'2'.repeat(32)}`))).statusCode).toBe(200);
  });
});

/** An error as another copy of spool makes it: a plain Error with the shared brand and a code. */
function fromAnotherBundle(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  const error = Object.assign(new Error(message), { name: 'RenamedByAMinifier', code, ...extra });
  Object.defineProperty(error, Symbol.for('spool-tasks.error'), { value: true });
  return error;
}

describe('GIVEN the HTTP handler over a producer whose enqueue refuses', () => {
  let spool: Spool;
  beforeAll(() => {
    spool = exampleSpool();
  });
  afterAll(() => spool.close());

  /** A handler whose enqueue rejects with `error`, and what it logged. */
  function refusing(error: unknown) {
    const logged: (LogFields | undefined)[] = [];
    const producer: HttpProducer = {
      tasks: spool.tasks,
      enqueue: () => Promise.reject(error),
      handle: (id, task) => spool.handle(id, task),
    };
    const logger: Logger = { ...silentLogger, error: (_message, fields) => logged.push(fields) };
    return { handler: createHttpHandler(producer, { expose: EXPOSE, logger }), logged };
  }

  it.each(SPOOL_ERROR_CODES)(
    'WHEN the error (from another copy of spool) carries %s THEN the status is that of the code, whatever the message says',
    async (code: SpoolErrorCode) => {
      // The message is bait: the old handler chose 413 by matching "the limit is … bytes".
      const { handler, logged } = refusing(fromAnotherBundle(code, 'the limit is 1 bytes', { issues: [] }));
      const response = await handler(post('orders.charge', { orderId: 'o-20', amountCents: 1 }));
      const status = HTTP_STATUS_BY_ERROR_CODE[code];
      expect(response.statusCode).toBe(status);
      if (status === 500) {
        expect(json(response)).toMatchObject({ error: 'InternalError', requestId: 'req-42' });
        expect(response.body).not.toContain('the limit');
        expect(logged).toEqual([expect.objectContaining({ code, error: expect.any(Error) })]);
      } else {
        expect(json(response)).toMatchObject({ code, message: 'the limit is 1 bytes' });
        expect(logged).toEqual([]);
      }
    },
  );

  it('WHEN the code and the message disagree THEN the code decides', async () => {
    const options = refusing(new EnqueueError('the limit is 5 bytes', { code: 'INVALID_ENQUEUE_OPTION' }));
    expect((await options.handler(post('orders.charge', {}))).statusCode).toBe(400);
    const tooLarge = refusing(new EnqueueError('it is big', { code: 'PAYLOAD_TOO_LARGE' }));
    const response = await tooLarge.handler(post('orders.charge', {}));
    expect(response.statusCode).toBe(413);
    expect(json(response)).toEqual({ error: 'PayloadTooLarge', code: 'PAYLOAD_TOO_LARGE', message: 'it is big' });
  });

  it("WHEN a unique task's lock kept changing hands THEN 409 Conflict, saying to try again", async () => {
    const { handler } = refusing(
      new EnqueueError('could not take unique lock: it changed hands three times. Try again.', {
        code: 'UNIQUE_LOCK_CONTENDED',
      }),
    );
    const response = await handler(post('orders.charge', {}));
    expect(response.statusCode).toBe(409);
    expect(json(response)).toMatchObject({ error: 'Conflict', code: 'UNIQUE_LOCK_CONTENDED' });
  });

  it('WHEN a ValidationError comes from another copy THEN 422 with its issues', async () => {
    const issues = [{ path: 'orderId', message: 'Required' }];
    const { handler } = refusing(
      fromAnotherBundle('INVALID_ARGUMENTS', "Invalid arguments for task 'orders.charge'", { issues }),
    );
    const response = await handler(post('orders.charge', {}));
    expect(response.statusCode).toBe(422);
    expect(json(response)).toEqual({
      error: 'ValidationError',
      code: 'INVALID_ARGUMENTS',
      message: "Invalid arguments for task 'orders.charge'",
      issues,
    });
  });
});

describe('GIVEN the HTTP handler over a producer that is not a Spool', () => {
  it('WHEN it serves POST and GET THEN it reads only the tasks, enqueue and handle of the producer', async () => {
    const tasks = defineOrderTasks({ payments: new FakePayments(), mail: new FlakyMail() });
    const producer = createProducer({
      backend: openEmbeddedBackend({ path: join(dir, `http-${dbs++}.db`) }),
      tasks: Object.values(tasks),
      logger: silentLogger,
    });
    const read = new Set<string | symbol>();
    const watched = new Proxy(producer, {
      get(target, property, receiver) {
        read.add(property);
        return Reflect.get(target, property, receiver);
      },
    });
    try {
      const handler = createHttpHandler(() => watched, { expose: EXPOSE, logger: silentLogger });
      const enqueued = await handler(post('orders.charge', { orderId: 'o-30', amountCents: 1 }));
      expect(enqueued.statusCode).toBe(202);
      expect((await handler(request('GET', String(json(enqueued).status)))).statusCode).toBe(200);
      read.delete('then'); // the promise that resolves the source looks for a then
      expect([...read].sort()).toEqual(['enqueue', 'handle', 'tasks']);
    } finally {
      await producer.close();
    }
  });
});

describe('GIVEN the options of createHttpHandler', () => {
  let spool: Spool;
  beforeAll(() => {
    spool = exampleSpool();
  });
  afterAll(() => spool.close());

  it('WHEN expose is missing THEN making the handler throws a ConfigurationError naming the option', () => {
    // A JavaScript caller, or one that cast the options: TypeScript requires expose.
    const make = () => createHttpHandler(spool, {} as Parameters<typeof createHttpHandler>[1]);
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/the option expose is missing; it must name the tasks HTTP callers may enqueue.*expose: \{\}/);
  });

  it('WHEN entries of expose are invalid THEN the error lists every problem', () => {
    const expose = {
      'orders.charge': { orderingKeys: 'yes', results: 'everyone' },
      'receipts.send': true,
    } as unknown as Readonly<Record<string, ExposedTask>>;
    expect(() => createHttpHandler(spool, { expose })).toThrow(
      /expose\["orders.charge"\]\.orderingKeys is "yes".*expose\["orders.charge"\]\.results is "everyone".*expose\["receipts.send"\] is true; it must be an object/,
    );
  });

  it('WHEN expose names a task the producer lacks THEN requests fail with a logged ConfigurationError naming it, not the caller', async () => {
    const logged: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (_message, fields) => logged.push(fields?.error) };
    const handler = createHttpHandler(spool, { expose: { 'orders.refund': {} }, logger });
    const response = await handler(post('orders.refund', {}));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('orders.');
    expect(logged).toEqual([expect.any(ConfigurationError)]);
    expect(String(logged[0])).toMatch(/expose names "orders.refund", which the producer has no task of/);
  });

  it('WHEN expose is {} THEN no task can be enqueued, and states can still be read', async () => {
    const handler = createHttpHandler(spool, { expose: {} });
    expect((await handler(post('orders.charge', { orderId: 'o-50', amountCents: 1 }))).statusCode).toBe(404);
    expect((await handler(request('GET', `/tasks/${'4'.repeat(32)}`))).statusCode).toBe(200);
  });

  it("WHEN a task is enqueued THEN enqueue gets the caller as enqueuedBy and a key of the caller's own", async () => {
    const seen: unknown[] = [];
    const producer: HttpProducer = {
      tasks: spool.tasks,
      enqueue: (task, args, options) => {
        seen.push(options);
        return spool.enqueue(task, args, options);
      },
      handle: (id, task) => spool.handle(id, task),
    };
    const handler = createHttpHandler(producer, { expose: EXPOSE });
    await handler(post('orders.charge', { orderId: 'o-51', amountCents: 1 }, { 'idempotency-key': 'k-1' }));
    await handler(post('receipts.send', { orderId: 'o-51', email: 'a@example.com' }, { 'idempotency-key': 'k-1' }));
    expect(seen).toEqual([
      { idempotencyKey: expect.stringMatching(/^caller:[0-9a-f]{64}$/), enqueuedBy: ALICE },
      { idempotencyKey: 'k-1', enqueuedBy: ALICE }, // sharedIdempotencyKeys
    ]);
  });

  it('WHEN callerPrincipal makes the role the principal THEN every session of the role reads its runs, and undefined refuses', async () => {
    const roleOnly = (event: Parameters<typeof iamPrincipal>[0]) =>
      iamPrincipal(event)?.replace(/^(arn:[^:]+:sts::\d+:assumed-role\/[^/]+)\/.*$/, '$1');
    const handler = createHttpHandler(spool, { expose: EXPOSE, callerPrincipal: roleOnly });
    const worker = spool.worker({ waitTimeSeconds: 1 });
    await worker.start();
    try {
      const enqueued = json(await handler(post('orders.charge', { orderId: 'o-52', amountCents: 3 })));
      const otherSession = `${ALICE.slice(0, -5)}carol`;
      let body = json(await handler(request('GET', String(enqueued.status), { caller: otherSession })));
      for (const deadline = Date.now() + 10_000; body.state !== 'succeeded' && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 25));
        body = json(await handler(request('GET', String(enqueued.status), { caller: otherSession })));
      }
      expect(body).toMatchObject({ state: 'succeeded', result: { chargeId: expect.any(String) } });
    } finally {
      await worker.stop();
    }
    const refusing = createHttpHandler(spool, { expose: EXPOSE, callerPrincipal: () => undefined });
    expect((await refusing(request('GET', `/tasks/${'5'.repeat(32)}`))).statusCode).toBe(403);
  });
});
