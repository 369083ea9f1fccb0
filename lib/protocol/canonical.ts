/**
 * Canonical JSON, the depth rule of JSON values (`MAX_JSON_DEPTH`), and task ids.
 *
 * @module
 */

import { createHash, hash, randomFillSync } from 'node:crypto';
import { describeThrown, EnqueueError } from '../task/errors.js';
import { MAX_JSON_DEPTH } from './limits.js';

/**
 * JSON with object keys sorted at every depth, so equal values give equal text. Rejects, with an
 * {@link EnqueueError} (`ARGUMENTS_NOT_JSON`) that names the path, what JSON cannot carry
 * faithfully (functions, symbols, bigints, non-finite numbers, a circular reference, a `toJSON()`
 * that throws) and nesting deeper than {@link MAX_JSON_DEPTH}. `toJSON()` is applied once per
 * value, as `JSON.stringify` does. The walk is recursive, but never deeper than
 * {@link MAX_JSON_DEPTH}, so it cannot run out of stack.
 */
export function canonicalJson(value: unknown, taskName: string): string {
  return JSON.stringify(new Canonicaliser(taskName).normalise(value, '', '$', 0));
}

/** One canonicalisation: the containers being walked (to tell a cycle from a shared value). */
class Canonicaliser {
  readonly #taskName: string;
  readonly #ancestors: object[] = [];
  readonly #ancestorPaths: string[] = [];

  constructor(taskName: string) {
    this.#taskName = taskName;
  }

  /** `value` (at `path`, property `key`, inside `depth` containers) with its keys sorted. */
  normalise(value: unknown, key: string, path: string, depth: number): unknown {
    const converted = applyToJSON(value, key);
    if (!converted.ok) this.#reject(path, converted.what);
    const current = converted.value;
    if (current === null || typeof current === 'string' || typeof current === 'boolean') return current;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) this.#reject(path, String(current));
      return current;
    }
    if (typeof current !== 'object') return this.#reject(path, typeof current);
    const seenAt = this.#ancestors.indexOf(current);
    if (seenAt !== -1) this.#reject(path, `a circular reference to ${this.#ancestorPaths[seenAt] ?? '$'}`);
    if (depth >= MAX_JSON_DEPTH) this.#reject(path, tooDeep(path), 'fix-depth');
    this.#ancestors.push(current);
    this.#ancestorPaths.push(path);
    try {
      if (Array.isArray(current)) {
        return current.map((item, index) =>
          item === undefined ? null : this.normalise(item, String(index), `${path}[${index}]`, depth + 1),
        );
      }
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(current).sort()) {
        const item = (current as Record<string, unknown>)[name];
        if (item === undefined) continue;
        const normalised = this.normalise(item, name, `${path}.${name}`, depth + 1);
        // An own `__proto__` key (JSON.parse makes one) is data: assigning it would set the prototype.
        if (name === '__proto__') {
          Object.defineProperty(out, name, { value: normalised, enumerable: true, writable: true, configurable: true });
        } else {
          out[name] = normalised;
        }
      }
      return out;
    } finally {
      this.#ancestors.pop();
      this.#ancestorPaths.pop();
    }
  }

  #reject(path: string, what: string, fix: 'fix-json' | 'fix-depth' = 'fix-json'): never {
    const taskName = this.#taskName;
    if (fix === 'fix-depth') {
      throw new EnqueueError(
        `Arguments of task '${taskName}' are nested too deep: ${what}. Nothing was enqueued. ${DEPTH_FIX}`,
        { code: 'ARGUMENTS_NOT_JSON', taskName },
      );
    }
    throw new EnqueueError(
      `Arguments of task '${taskName}' are not JSON: ${shortPath(path)} is ${what}. Task arguments travel as JSON; ` +
        'pass strings, finite numbers, booleans, null, arrays and plain objects (convert bigints and dates to strings, break cycles).',
      { code: 'ARGUMENTS_NOT_JSON', taskName },
    );
  }
}

/** How to fix arguments nested deeper than {@link MAX_JSON_DEPTH}: the producer's and the worker's advice. */
const DEPTH_FIX =
  'Flatten the structure, or pass deeply nested data as a string (or store it elsewhere and pass its key).';

/** Longest path a message shows, in characters (a path 257 levels deep is long). */
const SHOWN_PATH_LENGTH = 60;

/** `path` as a message shows it: cut after {@link SHOWN_PATH_LENGTH} characters, with `…`. */
export function shortPath(path: string): string {
  return path.length > SHOWN_PATH_LENGTH ? `${path.slice(0, SHOWN_PATH_LENGTH)}…` : path;
}

/** What a value nested deeper than {@link MAX_JSON_DEPTH} is, in every message that refuses one. */
export const NESTED_TOO_DEEP = `nested more than ${MAX_JSON_DEPTH} levels deep (arrays and objects within each other; spool's limit, MAX_JSON_DEPTH)`;

/**
 * The explanation of a value nested deeper than {@link MAX_JSON_DEPTH} at `path` (`$` is the
 * value): `$[0][0]… is nested more than 256 levels deep (…)`. The producer (`EnqueueError`) and
 * the worker (a `MalformedMessage` dead letter) give the same one.
 */
export function tooDeep(path: string): string {
  return `${shortPath(path)} is ${NESTED_TOO_DEEP}`;
}

/**
 * The worker's reason for a message whose `args` nest deeper than {@link MAX_JSON_DEPTH} (at
 * `path`, from `$`, the arguments): the producer's explanation, and its fix.
 */
export function tooDeepArgumentsReason(path: string): string {
  return `"args" are nested too deep: ${tooDeep(path)}. The producer refuses such arguments (EnqueueError ARGUMENTS_NOT_JSON). ${DEPTH_FIX} See docs/protocol.md`;
}

/**
 * Whether the JSON text `json` nests arrays and objects more than `limit` deep, read without
 * parsing (one pass, no recursion). A text that short cannot (it needs `limit + 1` brackets and
 * their closers), so the common case costs one length check.
 */
export function exceedsJsonDepth(json: string, limit: number = MAX_JSON_DEPTH): boolean {
  if (json.length <= 2 * limit) return false;
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string, escapes included.
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
      if (depth > limit) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The path (from `$`) of the first array or object in `value` that is nested more than `limit`
 * deep, in `JSON.stringify`'s order; `undefined` when there is none. For parsed JSON (no
 * `toJSON`, no cycles); iterative, so any depth is safe.
 */
export function pathBeyondDepth(value: unknown, limit: number = MAX_JSON_DEPTH): string | undefined {
  // Each entry: a container, its path, and the index of its next child.
  const stack: { readonly value: object; readonly path: string; readonly keys: readonly string[]; next: number }[] = [];
  const enter = (child: unknown, path: string): string | undefined => {
    if (typeof child !== 'object' || child === null) return undefined;
    if (stack.length >= limit) return path;
    stack.push({ value: child, path, keys: Array.isArray(child) ? [] : Object.keys(child), next: 0 });
    return undefined;
  };
  const found = enter(value, '$');
  if (found !== undefined) return found;
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    const array = Array.isArray(top.value) ? (top.value as unknown[]) : undefined;
    const length = array === undefined ? top.keys.length : array.length;
    if (top.next >= length) {
      stack.pop();
      continue;
    }
    const i = top.next++;
    const name = top.keys[i] ?? '';
    const beyond =
      array === undefined
        ? enter((top.value as Record<string, unknown>)[name], `${top.path}.${name}`)
        : enter(array[i], `${top.path}[${i}]`);
    if (beyond !== undefined) return beyond;
  }
  return undefined;
}

/**
 * What `JSON.stringify` serialises in place of `value` (property `key`): the result of its
 * `toJSON(key)` when it has one (as Dates do), else the value itself; or why `toJSON` threw.
 * Shared by the walks that must agree with `JSON.stringify` (canonical arguments, result checks).
 */
export function applyToJSON(
  value: unknown,
  key: string,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly what: string } {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'bigint') return { ok: true, value };
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return { ok: true, value };
  try {
    return { ok: true, value: toJSON.call(value, key) };
  } catch (error) {
    return { ok: false, what: `an object whose toJSON() threw (${describeThrown(error)})` };
  }
}

/** The task id for a run: 32 hex characters of SHA-256 over task name and idempotency key. */
export function deriveTaskId(taskName: string, idempotencyKey: string): string {
  return createHash('sha256').update(taskName).update('\u0000').update(idempotencyKey).digest('hex').slice(0, 32);
}

/**
 * What binds a run to the message that runs it (`TaskRecord.argsHash`): 43 characters, the
 * base64url SHA-256 of the arguments' canonical JSON, a NUL, and the enqueuer (empty when none).
 * Two messages of one task id have the same hash exactly when their arguments are the same JSON
 * value (key order aside) and they name the same enqueuer.
 *
 * @example
 * ```ts
 * argumentsHash({ b: 1, a: 2 }, 'orders.charge') === argumentsHash({ a: 2, b: 1 }, 'orders.charge'); // true
 * ```
 */
export function argumentsHash(args: unknown, taskName: string, enqueuedBy?: string): string {
  // One-shot hash (crypto.hash): about half the cost of a createHash object for a message's arguments.
  return hash('sha256', `${canonicalJson(args, taskName)}\u0000${enqueuedBy ?? ''}`, 'base64url');
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
