/**
 * The function URL handler (lib/aws/http-api.ts) in-process, on the embedded backend with the
 * example tasks and a worker, driven by synthetic function URL events (payload format 2.0).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import {
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
import { HTTP_STATUS_BY_ERROR_CODE, type HttpProducer, MAX_ECHO } from '../../lib/aws/http-api.js';

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

/** A function URL event as Lambda builds it (headers lower-case). */
function request(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; base64?: boolean } = {},
): LambdaFunctionURLEvent {
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
    },
    isBase64Encoded: options.base64 ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
  };
}

const post = (task: string, args: unknown, headers: Record<string, string> = {}) =>
  request('POST', `/tasks/${task}`, { body: typeof args === 'string' ? args : JSON.stringify(args), headers });

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
    handler = createHttpHandler(() => spool);
  });
  afterAll(async () => {
    await worker.stop();
    await spool.close();
  });

  /** GET the run's status until `done` says so. */
  async function waitForStatus(id: string, done: (body: Record<string, unknown>) => boolean) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = json(await handler(request('GET', `/tasks/${id}`)));
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

  it('WHEN the task is unknown THEN 404 listing the known tasks', async () => {
    const response = await handler(post('orders.refund', { orderId: 'o-7' }));
    expect(response.statusCode).toBe(404);
    const body = json(response);
    expect(body.knownTasks).toEqual(['orders.charge', 'orders.reconcile', 'receipts.send', 'reports.monthly']);
    expect(body.message).toMatch(
      /^Unknown task "orders.refund".*Enqueue one of: orders.charge, orders.reconcile, receipts.send/,
    );
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
    const handler = createHttpHandler(spool);
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
      { logger },
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
    const handler = createHttpHandler(spool, { onInvocation: (context) => seen.push(context.awsRequestId) });
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
      { logger: silentLogger },
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
    return { handler: createHttpHandler(producer, { logger }), logged };
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
      const handler = createHttpHandler(() => watched, { logger: silentLogger });
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
