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
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSpool } from '../../lib/client/spool.js';
import { silentLogger } from '../../lib/log/logger.js';
import { encodeEnvelope } from '../../lib/protocol/envelope.js';
import { defineTask } from '../../lib/task/define.js';
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
