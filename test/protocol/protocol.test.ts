/**
 * The protocol as another language would use it: the JSON Schema checks what the library writes,
 * and a message built from docs/protocol.md alone, sent with the plain SQS API, runs on a worker;
 * its result reads back with a plain GetItem.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createSpool, defineSchedule, defineTask, silentLogger } from 'spool-tasks';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeEnvelope, encodeEnvelope } from '../../lib/protocol/envelope.js';
import { fireRun } from '../../lib/schedule/fire.js';
import { freshAwsBackend } from '../aws/resources.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocol.schema.json'), 'utf8'));
const validate = new Ajv2020({ strict: true }).compile(schema);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('protocol version 1', () => {
  it('GIVEN the JSON Schema THEN what the library encodes conforms, and malformed bodies do not', () => {
    expect(validate(JSON.parse(encodeEnvelope('abc123', 'orders.charge', '{"orderId":"o-1"}')))).toBe(true);
    expect(
      validate(JSON.parse(encodeEnvelope('abc123', 'reports.monthly', '{}', { unique: 'reports.monthly:2026-10' }))),
    ).toBe(true);
    expect(validate({ spool: 2, id: 'a', task: 't', args: {} })).toBe(false);
    expect(validate({ spool: 1, id: 'has space', task: 't', args: {} })).toBe(false);
    expect(validate({ spool: 1, id: 'a', task: 't' })).toBe(false);
  });

  it('GIVEN arguments as a blob reference THEN the envelope conforms and decodes back; both args and argsRef, or a bad reference, do not', () => {
    const ref = { key: `blobs/64d/args/q.fifo/abc123/${'a'.repeat(32)}`, bytes: 2, sha256: 'a'.repeat(64) };
    const body = encodeEnvelope('abc123', 'orders.charge', { ref });
    expect(JSON.parse(body)).toEqual({ spool: 1, id: 'abc123', task: 'orders.charge', argsRef: ref });
    expect(validate(JSON.parse(body))).toBe(true);
    const decoded = decodeEnvelope(body);
    expect(decoded.ok && decoded.envelope.argsRef).toEqual(ref);
    expect(validate({ spool: 1, id: 'a', task: 't', args: {}, argsRef: ref })).toBe(false);
    expect(validate({ spool: 1, id: 'a', task: 't', argsRef: { ...ref, sha256: 'x' } })).toBe(false);
    const both = decodeEnvelope(JSON.stringify({ spool: 1, id: 'a', task: 't', args: {}, argsRef: ref }));
    expect(both).toMatchObject({ ok: false, reason: 'both "args" and "argsRef" are given; send one of them' });
    const bad = decodeEnvelope(JSON.stringify({ spool: 1, id: 'a', task: 't', argsRef: { key: 'elsewhere' } }));
    expect(bad).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^"argsRef" is \{"key":"elsewhere"\}; expected \{"key": "blobs\//),
    });
  });

  it('GIVEN a delayed run and a fire THEN their envelopes conform, decode back, and a bad notBefore or schedule is explained', () => {
    const delayed = encodeEnvelope('abc', 't', '{}', { notBefore: Date.parse('2026-11-22T09:30:00Z') });
    expect(validate(JSON.parse(delayed))).toBe(true);
    expect(decodeEnvelope(delayed)).toMatchObject({
      ok: true,
      envelope: { notBefore: Date.parse('2026-11-22T09:30:00Z') },
    });
    const task = defineTask({ name: 'ping', schema: z.object({}), handler: () => {} });
    const beat = defineSchedule({ name: 'beat', task, args: {}, cron: '0 * * * *', timezone: 'Europe/Berlin' });
    const fire = fireRun(beat.spec, Date.parse('2026-11-22T10:00:00Z'));
    expect(fire.deduplicationId).toBe('sched:beat:2026-11-22T10:00:00.000Z');
    expect(validate(JSON.parse(fire.body))).toBe(true);
    expect(decodeEnvelope(fire.body)).toMatchObject({
      ok: true,
      envelope: { id: 'sched:beat:2026-11-22T10:00:00.000Z', schedule: { name: 'beat', overlap: 'skip' } },
    });
    expect(decodeEnvelope('{"spool":1,"id":"a","task":"t","args":{},"notBefore":"tomorrow"}')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/"notBefore" is "tomorrow"; expected an ISO 8601 time with a zone/),
    });
    expect(
      decodeEnvelope('{"spool":1,"id":"a","task":"t","args":{},"schedule":{"name":"x","at":"now"}}'),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/"schedule" "at" is not an ISO 8601 time/),
    });
  });

  it('GIVEN a message built from the protocol document alone WHEN sent with the plain SQS API THEN a worker runs it and its result reads back with a plain GetItem', async () => {
    const fresh = await freshAwsBackend();
    let seen: unknown;
    const charge = defineTask({
      name: 'orders.charge',
      schema: z.object({ orderId: z.string(), amountCents: z.number().int() }),
      handler: (args) => {
        seen = args;
        return { chargeId: `ch_${args.orderId}` };
      },
    });
    const spool = createSpool({ backend: fresh.backend, tasks: [charge], logger: silentLogger });
    const worker = spool.worker({ waitTimeSeconds: 1 });
    cleanups.push(async () => {
      await worker.stop();
      await spool.close();
    });
    await worker.start();

    // A producer in another language: only the documented fields, no spool code.
    const body = {
      spool: 1,
      id: 'order-1001-charge',
      task: 'orders.charge',
      args: { orderId: 'order-1001', amountCents: 2599 },
    };
    expect(validate(body)).toBe(true);
    await fresh.backend.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: fresh.resources.queueUrl,
        MessageBody: JSON.stringify(body),
        MessageDeduplicationId: body.id,
        MessageGroupId: body.id,
      }),
    );

    // …and a reader in another language: GetItem on pk = task#<id>.
    let item: Record<string, { S?: string; N?: string }> | undefined;
    const deadline = Date.now() + 15_000;
    while (item?.state?.S !== 'succeeded') {
      if (Date.now() > deadline) throw new Error(`not succeeded: ${JSON.stringify(item)}`);
      await new Promise((r) => setTimeout(r, 100));
      const out = await fresh.backend.clients.dynamodb.send(
        new GetItemCommand({
          TableName: fresh.resources.tableName,
          Key: { pk: { S: `task#${body.id}` } },
          ConsistentRead: true,
        }),
      );
      item = out.Item as typeof item;
    }
    expect(seen).toEqual(body.args);
    expect(JSON.parse(item?.result?.S ?? 'null')).toEqual({ chargeId: 'ch_order-1001' });
    expect(Number(item?.expiresAt?.N)).toBeGreaterThan(Date.now());
    expect(item?.attempt?.N).toBe('1');
  });

  it('GIVEN large arguments written to the bucket and sent as argsRef with the plain S3 and SQS APIs THEN a worker runs them, and a large result reads back with a plain GetItem and GetObject', async () => {
    const fresh = await freshAwsBackend();
    const bucket = fresh.resources.bucketName ?? '';
    const s3 = fresh.backend.clients.s3;
    if (s3 === undefined) throw new Error('freshAwsBackend made no S3 client');
    const echo = defineTask({
      name: 'blobs.echo',
      schema: z.object({ text: z.string() }),
      handler: ({ text }) => ({ echoed: text }),
    });
    const spool = createSpool({ backend: fresh.backend, tasks: [echo], logger: silentLogger });
    const worker = spool.worker({ waitTimeSeconds: 1 });
    cleanups.push(async () => {
      await worker.stop();
      await spool.close();
    });
    await worker.start();

    // A producer in another language: write the arguments' JSON, then send the reference.
    const id = 'big-echo-1';
    const argsJson = JSON.stringify({ text: 't'.repeat(1_500_000) });
    const sha256 = createHash('sha256').update(argsJson).digest('hex');
    const key = `blobs/64d/args/${encodeURIComponent(new URL(fresh.resources.queueUrl).pathname.split('/').pop() ?? '')}/${id}/${sha256.slice(0, 32)}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: argsJson }));
    const body = { spool: 1, id, task: 'blobs.echo', argsRef: { key, bytes: Buffer.byteLength(argsJson), sha256 } };
    expect(validate(body)).toBe(true);
    await fresh.backend.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: fresh.resources.queueUrl,
        MessageBody: JSON.stringify(body),
        MessageDeduplicationId: id,
        MessageGroupId: id,
      }),
    );

    // …and a reader in another language: GetItem, then GetObject on resultRef.key.
    let item: Record<string, { S?: string; M?: Record<string, { S?: string; N?: string }> }> | undefined;
    const deadline = Date.now() + 20_000;
    while (item?.state?.S !== 'succeeded') {
      if (Date.now() > deadline) throw new Error(`not succeeded: ${JSON.stringify(item).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 100));
      const out = await fresh.backend.clients.dynamodb.send(
        new GetItemCommand({
          TableName: fresh.resources.tableName,
          Key: { pk: { S: `task#${id}` } },
          ConsistentRead: true,
        }),
      );
      item = out.Item as typeof item;
    }
    expect(item?.result).toBeUndefined();
    const resultKey = item?.resultRef?.M?.key?.S ?? '';
    expect(resultKey).toMatch(new RegExp(`^blobs/\\d+d/result/.+/${id}/[0-9a-f]{32}$`));
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: resultKey }));
    const resultJson = (await object.Body?.transformToString('utf-8')) ?? '';
    expect(createHash('sha256').update(resultJson).digest('hex')).toBe(item?.resultRef?.M?.sha256?.S);
    expect(JSON.parse(resultJson)).toEqual({ echoed: 't'.repeat(1_500_000) });
  });
});
