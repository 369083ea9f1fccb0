/**
 * Canonical JSON and task ids.
 *
 * @module
 */

import { createHash, randomUUID } from 'node:crypto';
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
    { taskName },
  );
}

/** The task id for a run: 32 hex characters of SHA-256 over task name and idempotency key. */
export function deriveTaskId(taskName: string, idempotencyKey: string): string {
  return createHash('sha256').update(taskName).update('\u0000').update(idempotencyKey).digest('hex').slice(0, 32);
}

/** A fresh random task id (for tasks that opt out of deduplication). */
export function randomTaskId(): string {
  return randomUUID().replaceAll('-', '');
}
