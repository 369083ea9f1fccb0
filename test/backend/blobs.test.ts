/**
 * The claim-check's rules, without a backend: keys are a pure function of the queue, the run and the
 * content; a blob's retention class (and so its lifecycle rule) is never shorter than its expiry;
 * the expiry outlives what points to the blob; a reader checks size and digest; SQS's size counts
 * attributes.
 */

import { blobLifecycleRules } from 'spool-tasks/aws';
import { describe, expect, it } from 'vitest';
import {
  argumentsBlobExpiry,
  type BlobStore,
  deadLetterBlobExpiry,
  prepareBlob,
  readBlob,
  recordBlobExpiry,
} from '../../lib/backend/blobs.js';
import { messageBytes } from '../../lib/backend/transport.js';
import {
  BLOB_RETENTION_CLASSES_DAYS,
  decodeBodyRef,
  encodeBodyRef,
  retentionClassDays,
} from '../../lib/protocol/blob-ref.js';
import {
  BLOB_EXPIRY_MARGIN_MS,
  DEFAULT_RETENTION_MS,
  MAX_MESSAGE_BYTES,
  MAX_RETENTION_SECONDS,
} from '../../lib/protocol/limits.js';

const DAY_MS = 86_400_000;

/** A blob store in a map (with expiries). */
function memoryBlobs(): BlobStore & { readonly map: Map<string, { body: string; expiresAt: number }> } {
  const map = new Map<string, { body: string; expiresAt: number }>();
  return {
    map,
    put: async (key, body, expiresAt) => void map.set(key, { body, expiresAt }),
    get: async (key, now) => {
      const found = map.get(key);
      return found === undefined || found.expiresAt <= now ? undefined : found.body;
    },
  };
}

describe('GIVEN blob keys', () => {
  const now = Date.now();
  const subject = {
    kind: 'args' as const,
    queue: 'orders.fifo',
    id: 'order-1:charge',
    now,
    expiresAt: now + 40 * DAY_MS,
  };

  it('WHEN the same content of the same run is prepared twice, a minute apart THEN the key is the same', () => {
    const first = prepareBlob(subject, '{"a":1}');
    const later = prepareBlob({ ...subject, now: now + 60_000, expiresAt: subject.expiresAt + 60_000 }, '{"a":1}');
    expect(later.ref).toEqual(first.ref);
    expect(first.ref.key).toMatch(/^blobs\/64d\/args\/orders\.fifo\/order-1%3Acharge\/[0-9a-f]{32}$/);
    expect(first.ref.bytes).toBe(7);
  });

  it('WHEN the content, the run or the queue differs THEN the key differs', () => {
    const key = prepareBlob(subject, '{"a":1}').ref.key;
    expect(prepareBlob(subject, '{"a":2}').ref.key).not.toBe(key);
    expect(prepareBlob({ ...subject, id: 'other' }, '{"a":1}').ref.key).not.toBe(key);
    expect(prepareBlob({ ...subject, queue: 'other.fifo' }, '{"a":1}').ref.key).not.toBe(key);
    expect(prepareBlob({ ...subject, kind: 'result' }, '{"a":1}').ref.key).not.toBe(key);
  });

  it('WHEN a blob must be kept any time from a second to 11 years THEN its class (and lifecycle rule) is at least that long, and at most twice', () => {
    const rules = new Map(blobLifecycleRules().map((r) => [r.prefix, r.expirationDays]));
    for (const keepMs of [1000, DAY_MS, DAY_MS + 1, 7 * DAY_MS, 36 * DAY_MS, 400 * DAY_MS, 4000 * DAY_MS]) {
      const days = retentionClassDays(now, now + keepMs);
      expect(days * DAY_MS).toBeGreaterThanOrEqual(keepMs);
      expect(days * DAY_MS).toBeLessThan(Math.max(2 * keepMs, 2 * DAY_MS));
      const { key } = prepareBlob({ ...subject, expiresAt: now + keepMs }, 'x').ref;
      const prefix = key.slice(0, key.indexOf('d/') + 2);
      expect(rules.get(prefix)).toBe(days);
    }
    expect(retentionClassDays(now, now + 10_000 * DAY_MS)).toBe(BLOB_RETENTION_CLASSES_DAYS.at(-1));
  });
});

describe('GIVEN the expiry rule', () => {
  const now = Date.now();

  it('THEN an argument blob outlives the message in both queues and the record after the run', () => {
    const start = now + 3_600_000; // a run delayed by an hour
    const expiresAt = argumentsBlobExpiry(start, DEFAULT_RETENTION_MS);
    expect(expiresAt).toBe(start + 2 * MAX_RETENTION_SECONDS * 1000 + DEFAULT_RETENTION_MS + BLOB_EXPIRY_MARGIN_MS);
  });

  it('THEN a result or error blob outlives its record, and a dead-letter copy the dead-letter queue', () => {
    const recordExpiresAt = now + DEFAULT_RETENTION_MS;
    expect(recordBlobExpiry(recordExpiresAt)).toBeGreaterThan(recordExpiresAt);
    expect(deadLetterBlobExpiry(now)).toBeGreaterThan(now + MAX_RETENTION_SECONDS * 1000);
  });
});

describe('GIVEN a blob reader', () => {
  const now = Date.now();
  const subject = { kind: 'result' as const, queue: 'q', id: 'r1', now, expiresAt: now + DAY_MS };

  it('WHEN the blob is there THEN it reads back; missing, expired or damaged THEN the reason names the key', async () => {
    const blobs = memoryBlobs();
    const { ref, body, expiresAt } = prepareBlob(subject, '"hello"');
    await blobs.put(ref.key, body, expiresAt);
    expect(await readBlob(blobs, ref, now)).toEqual({ ok: true, body: '"hello"' });
    const expired = await readBlob(blobs, ref, expiresAt);
    expect(expired).toMatchObject({
      ok: false,
      reason: expect.stringContaining(`blob ${ref.key} (7 bytes) is missing`),
    });
    await blobs.put(ref.key, '"HELLO"', expiresAt);
    const damaged = await readBlob(blobs, ref, now);
    expect(damaged).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not match its reference: 7 bytes, SHA-256/),
    });
    const none = await readBlob(undefined, ref, now);
    expect(none).toMatchObject({ ok: false, reason: expect.stringContaining('this backend has no blob store') });
  });

  it('WHEN a dead-letter body reference is encoded THEN it decodes back, and other bodies are not references', () => {
    const { ref } = prepareBlob({ ...subject, kind: 'dead-letter' }, 'body');
    expect(decodeBodyRef(encodeBodyRef(ref))).toEqual(ref);
    expect(decodeBodyRef('{"spool":1,"id":"a","task":"t","args":{}}')).toBeUndefined();
    expect(decodeBodyRef('{"spool":1,"bodyRef":{"key":"nope"}}')).toBeUndefined();
  });
});

describe('GIVEN a message with attributes', () => {
  it('THEN its size is the body plus, per attribute, its name, `String` and its value, as SQS counts it', () => {
    expect(messageBytes({ body: 'x'.repeat(10) })).toBe(10);
    expect(messageBytes({ body: '€', attributes: { 'spool-reason': 'é' } })).toBe(3 + 12 + 6 + 2);
    expect(messageBytes({ body: 'x'.repeat(MAX_MESSAGE_BYTES - 20), attributes: { k: 'v'.repeat(13) } })).toBe(
      MAX_MESSAGE_BYTES,
    );
  });
});
