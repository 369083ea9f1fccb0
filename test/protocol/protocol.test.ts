/**
 * The protocol as another language would use it: the JSON Schema checks what the library writes,
 * and a message built from docs/protocol.md alone, sent with the plain SQS API, runs on a worker;
 * its result reads back with a plain GetItem.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
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
});
