/**
 * Canonical JSON and task ids.
 *
 * @module
 */

import { createHash, randomFillSync } from 'node:crypto';
import { EnqueueError } from '../task/errors.js';

/**
 * JSON with object keys sorted at every depth, so equal values give equal text. Rejects what JSON
 * cannot carry faithfully (functions, symbols, bigints, non-finite numbers) with an {@link EnqueueError}.
 */
export function canonicalJson(value: unknown, taskName: string): string {
  return JSON.stringify(normalise(value, '$', taskName));
}

function normalise(value: unknown, path: string, taskName: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) reject(path, String(value), taskName);
    return value;
  }
  if (typeof value === 'object') {
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return normalise(withJson.toJSON(), path, taskName);
    if (Array.isArray(value)) {
      return value.map((item, index) => (item === undefined ? null : normalise(item, `${path}[${index}]`, taskName)));
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = normalise(item, `${path}.${key}`, taskName);
    }
    return out;
  }
  return reject(path, typeof value, taskName);
}

function reject(path: string, what: string, taskName: string): never {
  throw new EnqueueError(
    `Arguments of task '${taskName}' are not JSON: ${path} is ${what}. Task arguments travel as JSON; ` +
      'pass strings, finite numbers, booleans, null, arrays and plain objects (convert bigints and dates to strings).',
    { code: 'ARGUMENTS_NOT_JSON', taskName },
  );
}

/** The task id for a run: 32 hex characters of SHA-256 over task name and idempotency key. */
export function deriveTaskId(taskName: string, idempotencyKey: string): string {
  return createHash('sha256').update(taskName).update('\u0000').update(idempotencyKey).digest('hex').slice(0, 32);
}

/** Random bytes drawn from the OS at a time, for {@link randomTaskId} (8 per id). */
const RANDOM_POOL_BYTES = 2048;
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;
/** Millisecond and counter of the last id, so ids of one process are strictly increasing. */
let lastMs = 0;
let sequence = 0;

/**
 * A fresh task id for a run that opted out of deduplication: a **UUIDv7** (RFC 9562) as 32 hex
 * digits without dashes. It starts with the Unix time in ms, then a 12-bit counter that keeps ids
 * made in the same millisecond in order (when it overflows, the time part moves on by 1 ms), then
 * 62 random bits. So ids are unique and **increase in creation order within a process**, which
 * keeps the store's id index append-only (the embedded runtime writes each group commit's records
 * to a few pages instead of one page per record; DynamoDB hashes keys, so order costs nothing there).
 */
export function randomTaskId(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (sequence < 0xfff) {
    sequence += 1;
  } else {
    lastMs += 1;
    sequence = 0;
  }
  if (randomAt === RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  // Variant bits 10, then 30 random bits; then 32 more.
  const high = (randomPool.readUInt32BE(randomAt) >>> 2) | 0x80000000;
  const low = randomPool.readUInt32BE(randomAt + 4);
  randomAt += 8;
  return (
    lastMs.toString(16).padStart(12, '0') +
    (0x7000 | sequence).toString(16) +
    (high >>> 0).toString(16) +
    low.toString(16).padStart(8, '0')
  );
}
