/**
 * Results travel as JSON: a worker stores `JSON.stringify(returnValue)` and a handle resolves
 * `JSON.parse` of it. {@link Jsonify} is that round trip written as a type, so `handle.result()`
 * is typed as what comes back; {@link encodeResult} refuses at run time what JSON cannot carry.
 *
 * @module
 */

import { InvalidResultError } from './errors.js';

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
 * not finite (JSON would write `null`), a circular reference, or a `toJSON()` that throws.
 *
 * The common case costs one `JSON.stringify`: only a text containing `null` (where a non-finite
 * number may have gone) or a failed stringify walks the value, to find and name the culprit.
 */
export function encodeResult(value: unknown, context: ResultContext): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw refusal(
      findUnfaithful(value) ?? { path: '$', what: `a value JSON.stringify refused (${String(error)})` },
      context,
      error,
    );
  }
  if (json?.includes('null')) {
    const found = findUnfaithful(value);
    if (found !== undefined) throw refusal(found, context, undefined);
  }
  return json;
}

interface Unfaithful {
  /** Where, as `$`, `$.items[2].amount`. */
  readonly path: string;
  /** What was found there. */
  readonly what: string;
}

/** The first place in `value` (in JSON.stringify's order) that JSON cannot carry faithfully. */
function findUnfaithful(value: unknown): Unfaithful | undefined {
  const ancestors: object[] = [];
  const ancestorPaths: string[] = [];
  const visit = (raw: unknown, key: string, path: string): Unfaithful | undefined => {
    let current = raw;
    if (
      typeof current === 'object' &&
      current !== null &&
      typeof (current as { toJSON?: unknown }).toJSON === 'function'
    ) {
      try {
        current = (current as { toJSON(key: string): unknown }).toJSON(key);
      } catch (error) {
        return { path, what: `an object whose toJSON() threw (${String(error)})` };
      }
    }
    if (typeof current === 'bigint') return { path, what: `a bigint (${current}n)` };
    if (typeof current === 'number' && !Number.isFinite(current)) return { path, what: String(current) };
    if (typeof current !== 'object' || current === null) return undefined;
    const seenAt = ancestors.indexOf(current);
    if (seenAt !== -1) return { path, what: `a circular reference to ${ancestorPaths[seenAt] ?? '$'}` };
    ancestors.push(current);
    ancestorPaths.push(path);
    try {
      if (Array.isArray(current)) {
        for (const [index, item] of current.entries()) {
          const found = visit(item, String(index), `${path}[${index}]`);
          if (found !== undefined) return found;
        }
        return undefined;
      }
      for (const name of Object.keys(current)) {
        const found = visit((current as Record<string, unknown>)[name], name, `${path}.${name}`);
        if (found !== undefined) return found;
      }
      return undefined;
    } finally {
      ancestors.pop();
      ancestorPaths.pop();
    }
  };
  return visit(value, '', '$');
}

function refusal(found: Unfaithful, context: ResultContext, cause: unknown): InvalidResultError {
  return new InvalidResultError(
    `Task '${context.taskName}' returned a result that is not JSON: ${found.path} is ${found.what}. ` +
      'A result is stored as JSON, so return strings, finite numbers, booleans, null, arrays and plain objects ' +
      '(a Date arrives as its ISO string): convert bigints to strings, non-finite numbers to null or a string, ' +
      'and break cycles. The run failed without retrying.',
    { taskName: context.taskName, taskId: context.taskId, path: found.path, ...(cause === undefined ? {} : { cause }) },
  );
}
