/**
 * Results travel as JSON: a worker stores `JSON.stringify(returnValue)` and a handle resolves
 * `JSON.parse` of it. {@link Jsonify} is that round trip written as a type, so `handle.result()`
 * is typed as what comes back; {@link encodeResult} refuses at run time what JSON cannot carry.
 *
 * @module
 */

import { applyToJSON, exceedsJsonDepth, NESTED_TOO_DEEP, shortPath } from '../protocol/canonical.js';
import { MAX_JSON_DEPTH } from '../protocol/limits.js';
import { describeThrown, InvalidResultError } from './errors.js';

/** Values JSON.stringify leaves out of an object (and turns into `null` in an array). */
type Dropped = undefined | symbol | ((...args: never) => unknown);

/** Built-ins whose JSON form is `{}` (no own enumerable properties). */
type Opaque =
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | WeakMap<object, unknown>
  | WeakSet<object>
  | RegExp;

type IsAny<T> = 0 extends 1 & T ? true : false;
/** The type `{}`: an object type without required properties extends it. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is meant: "has no required property".
type NoProperties = {};
type Simplify<T> = { [K in keyof T]: T[K] } & NoProperties;

/** `K` is an index signature's key (`string`, `number`, a template pattern), not a property name. */
type IsIndexKey<K> = K extends string | number ? (NoProperties extends { [P in K]: 0 } ? true : false) : false;

/** Property names JSON always keeps: required, and the value is never dropped. */
type KeptKeys<T> = {
  [K in keyof T]-?: K extends symbol
    ? never
    : IsIndexKey<K> extends true
      ? never
      : NoProperties extends Pick<T, K>
        ? never
        : [Extract<T[K], Dropped>] extends [never]
          ? K
          : never;
}[keyof T];

/** Property names JSON keeps sometimes: optional ones, and ones whose value may be dropped. */
type SometimesKeys<T> = {
  [K in keyof T]-?: K extends symbol
    ? never
    : IsIndexKey<K> extends true
      ? never
      : [Exclude<T[K], Dropped>] extends [never]
        ? never
        : K extends KeptKeys<T>
          ? never
          : K;
}[keyof T];

/** Index signatures: a dropped value is a missing key, which an index signature allows anyway. */
type IndexPart<T> = {
  [K in keyof T as K extends symbol ? never : IsIndexKey<K> extends true ? K : never]: Jsonify<Exclude<T[K], Dropped>>;
};

type PropertyPart<T> = Simplify<
  { [K in KeptKeys<T>]: Jsonify<T[K]> } & { [K in SometimesKeys<T>]?: Jsonify<Exclude<T[K], Dropped>> }
>;

type JsonifyObject<T> = [KeptKeys<T> | SometimesKeys<T>] extends [never]
  ? Simplify<IndexPart<T>>
  : [keyof IndexPart<T>] extends [never]
    ? PropertyPart<T>
    : Simplify<IndexPart<T>> & PropertyPart<T>;

type JsonifyElement<T> = IsAny<T> extends true ? unknown : T extends Dropped ? null : Jsonify<T>;

type JsonifyArray<T extends readonly unknown[]> = { -readonly [I in keyof T]: JsonifyElement<T[I]> };

/**
 * The JSON form of `T`: what `JSON.parse(JSON.stringify(value))` gives for a `value` of type `T`.
 * A `Date` (and anything with `toJSON()`) becomes what `toJSON` returns (a `Date`: an ISO string);
 * properties that are `undefined`, functions or symbols are dropped (optional when they may be);
 * in arrays they become `null`; symbol keys are dropped; `Map`, `Set`, `WeakMap`, `WeakSet` and
 * `RegExp` become `{}` (`Record<string, never>`); a top-level `undefined`, `void` or function is
 * `undefined` (no result); `bigint` is `never` (JSON has none, and a worker refuses it).
 *
 * @example
 * ```ts
 * type R = Jsonify<{ at: Date; note?: string; tags: Set<string>; n: number | undefined }>;
 * //   R = { at: string; note?: string; tags: Record<string, never>; n?: number }
 * ```
 */
export type Jsonify<T> =
  IsAny<T> extends true
    ? // biome-ignore lint/suspicious/noExplicitAny: `any` in, `any` out.
      any
    : unknown extends T
      ? unknown
      : T extends { toJSON(...args: never): infer J }
        ? Jsonify<J>
        : T extends string | number | boolean | null
          ? T
          : T extends bigint
            ? never
            : T extends Dropped
              ? undefined
              : T extends void
                ? undefined
                : T extends Opaque
                  ? Record<string, never>
                  : T extends readonly unknown[]
                    ? JsonifyArray<T>
                    : T extends object
                      ? JsonifyObject<T>
                      : never;

/** Where a result is refused, for the error message. */
export interface ResultContext {
  readonly taskName: string;
  readonly taskId: string;
}

/**
 * The JSON text to store for a handler's return value, or `undefined` for no result (the handler
 * returned `undefined`, a function or a symbol, as `JSON.stringify` has it). Throws an
 * {@link InvalidResultError} for a value JSON cannot carry faithfully: a bigint, a number that is
 * not finite (JSON would write `null`), a circular reference, a `toJSON()` that throws, or nesting
 * deeper than `MAX_JSON_DEPTH` (checked on the text, without recursion). The size limits are the
 * worker's (`lib/worker/processor.ts`).
 *
 * The common case costs one `JSON.stringify`: only a text containing `null` (where a non-finite
 * number may have gone), a text long enough to nest too deep, or a failed stringify walks the
 * value, to find and name the culprit. The walk is iterative: any depth is safe.
 */
export function encodeResult(value: unknown, context: ResultContext): string | undefined {
  return encodeJson(value, 'result', context);
}

/**
 * The JSON text to store for a `ctx.progress(value)`: as {@link encodeResult}, except that a
 * value JSON has no text for (`undefined` is recorded as `null`; a function or a symbol) is refused
 * too. The size limits are the worker's (`lib/worker/attempt.ts`).
 */
export function encodeProgress(value: unknown, context: ResultContext): string {
  const json = encodeJson(value === undefined ? null : value, 'progress', context);
  if (json === undefined) throw refusal({ path: '$', what: `a ${typeof value}` }, 'progress', context, undefined);
  return json;
}

/** What is being stored, for the error message. */
type Subject = 'result' | 'progress';

function encodeJson(value: unknown, subject: Subject, context: ResultContext): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw refusal(
      findUnfaithful(value) ?? { path: '$', what: `a value JSON.stringify refused (${describeThrown(error)})` },
      subject,
      context,
      error,
    );
  }
  if (json === undefined) return undefined;
  const deep = exceedsJsonDepth(json);
  if (deep || json.includes('null')) {
    const found = findUnfaithful(value) ?? (deep ? { path: '$', what: NESTED_TOO_DEEP } : undefined);
    if (found !== undefined) throw refusal(found, subject, context, undefined);
  }
  return json;
}

interface Unfaithful {
  /** Where, as `$`, `$.items[2].amount`. */
  readonly path: string;
  /** What was found there. */
  readonly what: string;
}

/** A container being walked: its value (after `toJSON`), its path, and the index of its next child. */
interface Frame {
  readonly value: object;
  readonly path: string;
  /** An object's own enumerable keys; `undefined` for an array. */
  readonly keys: readonly string[] | undefined;
  next: number;
}

/**
 * The first place in `value` (in JSON.stringify's order) that JSON cannot carry faithfully, or
 * that nests deeper than `MAX_JSON_DEPTH`. Iterative (an explicit stack of the containers being
 * walked, which are also the ancestors a cycle would lead back to).
 */
function findUnfaithful(value: unknown): Unfaithful | undefined {
  const stack: Frame[] = [];
  const visit = (raw: unknown, key: string, path: string): Unfaithful | Frame | undefined => {
    const converted = applyToJSON(raw, key);
    if (!converted.ok) return { path, what: converted.what };
    const current = converted.value;
    if (typeof current === 'bigint') return { path, what: `a bigint (${current}n)` };
    if (typeof current === 'number' && !Number.isFinite(current)) return { path, what: String(current) };
    if (typeof current !== 'object' || current === null) return undefined;
    const seenAt = stack.findIndex((frame) => frame.value === current);
    if (seenAt !== -1) return { path, what: `a circular reference to ${stack[seenAt]?.path ?? '$'}` };
    if (stack.length >= MAX_JSON_DEPTH) return { path, what: NESTED_TOO_DEEP };
    return { value: current, path, keys: Array.isArray(current) ? undefined : Object.keys(current), next: 0 };
  };
  const descend = (found: Unfaithful | Frame | undefined): Unfaithful | undefined => {
    if (found === undefined || !('value' in found)) return found;
    stack.push(found);
    return undefined;
  };
  const first = descend(visit(value, '', '$'));
  if (first !== undefined) return first;
  for (let top = stack.at(-1); top !== undefined; top = stack.at(-1)) {
    const items = top.keys === undefined ? (top.value as unknown[]) : undefined;
    const length = items === undefined ? (top.keys?.length ?? 0) : items.length;
    if (top.next >= length) {
      stack.pop();
      continue;
    }
    const i = top.next++;
    const name = top.keys?.[i] ?? '';
    const found = descend(
      items === undefined
        ? visit((top.value as Record<string, unknown>)[name], name, `${top.path}.${name}`)
        : visit(items[i], String(i), `${top.path}[${i}]`),
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

function refusal(found: Unfaithful, subject: Subject, context: ResultContext, cause: unknown): InvalidResultError {
  const what =
    subject === 'result'
      ? `Task '${context.taskName}' returned a result that is not JSON`
      : `Task '${context.taskName}' passed ctx.progress() a value that is not JSON`;
  const outcome =
    subject === 'result'
      ? 'The run failed without retrying.'
      : 'The progress was not recorded (InvalidResultError is not retriable: let it propagate and the run fails).';
  return new InvalidResultError(
    `${what}: ${shortPath(found.path)} is ${found.what}. ${subject === 'result' ? 'A result is stored as JSON, so return' : 'Progress is stored as JSON, so report'} ` +
      'strings, finite numbers, booleans, null, arrays and plain objects (a Date arrives as its ISO string): ' +
      `convert bigints to strings, non-finite numbers to null or a string, break cycles and flatten deep nesting. ${outcome}`,
    { taskName: context.taskName, taskId: context.taskId, path: found.path, ...(cause === undefined ? {} : { cause }) },
  );
}
