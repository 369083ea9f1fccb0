/**
 * The claim-check's wire format: a **blob reference**, what a message or a record carries instead of
 * a value too large for it (docs/protocol.md, "Large arguments and results"), and the layout of
 * blob keys.
 *
 * ```json
 * { "key": "blobs/64d/args/orders.fifo/order-1001-charge/3f2a…", "bytes": 2097152, "sha256": "3f2a…" }
 * ```
 *
 * - `key` — where the blob is: an S3 object key in the app's bucket (`SPOOL_BUCKET`), or a row of
 *   table `blobs` in the embedded file. Layout: `blobs/<days>d/<kind>/<queue>/<id>/<digest>`, where
 *   `<days>` is the blob's retention class (a power of two, {@link BLOB_RETENTION_CLASSES_DAYS}:
 *   the bucket's lifecycle rule for `blobs/<days>d/` deletes it that many days after it was
 *   written), `<kind>` one of {@link BlobKind}, `<queue>` the task queue's name (URI-encoded),
 *   `<id>` the task id (or, for a dead-letter copy whose run is unknown, the message id) and
 *   `<digest>` the first 32 hex digits of the content's SHA-256. So the key is a pure function of
 *   the queue, the run and the content: an enqueue retried with the same arguments writes the same
 *   key, and two enqueues of one id with different arguments never overwrite each other's blob.
 * - `bytes` — the content's size, UTF-8.
 * - `sha256` — the content's SHA-256, 64 lowercase hex digits. A reader checks both.
 *
 * The content is UTF-8 text: the JSON of the arguments or of the result, an error message, or a
 * dead-lettered message's body.
 *
 * Imports nothing but the limits, so every layer may use it.
 *
 * @module
 */

/** What a blob holds (a segment of its key). */
export type BlobKind = 'args' | 'result' | 'error' | 'dead-letter';

/** A reference to a blob (see the module's header). */
export interface BlobRef {
  /** The blob's key. */
  readonly key: string;
  /** The content's size in bytes (UTF-8). */
  readonly bytes: number;
  /** The content's SHA-256, 64 lowercase hex digits. */
  readonly sha256: string;
}

/** Every blob key starts with this (the bucket's lifecycle rules filter on it). */
export const BLOB_KEY_PREFIX = 'blobs/';

/**
 * The retention classes, in days: a blob is written under the smallest class at least as long as
 * it must be kept (`blobs/<days>d/…`), and each class has a lifecycle rule that deletes its blobs
 * that many days after they were written (S3; the embedded store deletes each at its exact
 * expiry). Powers of two, so a blob is never kept more than twice as long as it must be. A blob
 * that must be kept longer than the last class (4096 days, over 11 years) is kept that long.
 */
export const BLOB_RETENTION_CLASSES_DAYS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096] as const;

const DAY_MS = 86_400_000;

/** The retention class (days) of a blob written at `now` that must be kept until `expiresAt` (epoch ms). */
export function retentionClassDays(now: number, expiresAt: number): number {
  const days = Math.max(1, Math.ceil((expiresAt - now) / DAY_MS));
  return BLOB_RETENTION_CLASSES_DAYS.find((d) => d >= days) ?? (BLOB_RETENTION_CLASSES_DAYS.at(-1) as number);
}

/** What {@link blobKey} builds a key from. */
export interface BlobKeyParts {
  readonly kind: BlobKind;
  /** The task queue's name. */
  readonly queue: string;
  /** The task id (a dead-letter copy of an unreadable message: its message id). */
  readonly id: string;
  /** The content's SHA-256 (hex). */
  readonly sha256: string;
  /** When it is written, and until when it must be kept, epoch ms (they choose the retention class). */
  readonly now: number;
  readonly expiresAt: number;
}

/** The key of a blob: `blobs/<days>d/<kind>/<queue>/<id>/<first 32 hex digits of sha256>`. */
export function blobKey(parts: BlobKeyParts): string {
  const days = retentionClassDays(parts.now, parts.expiresAt);
  const id = encodeURIComponent(parts.id);
  return `${BLOB_KEY_PREFIX}${days}d/${parts.kind}/${encodeURIComponent(parts.queue)}/${id}/${parts.sha256.slice(0, 32)}`;
}

/** Whether `value` is a {@link BlobRef} (a key under {@link BLOB_KEY_PREFIX}, a size, a SHA-256). */
export function isBlobRef(value: unknown): value is BlobRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.key === 'string' &&
    v.key.startsWith(BLOB_KEY_PREFIX) &&
    typeof v.bytes === 'number' &&
    Number.isInteger(v.bytes) &&
    v.bytes >= 0 &&
    typeof v.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(v.sha256)
  );
}

/** The expected shape, for error messages. */
export const BLOB_REF_FORMAT =
  '{"key": "blobs/<days>d/<kind>/<queue>/<id>/<digest>", "bytes": <size>, "sha256": "<64 hex digits>"}';

/**
 * A dead-letter copy whose body would not fit the dead-letter queue with its attributes carries
 * this body instead: `{"spool":1,"bodyRef":<BlobRef>}`, the original body being the blob (kind
 * `dead-letter`). `spool dlq redrive` sends the original body back.
 */
export function encodeBodyRef(ref: BlobRef): string {
  return JSON.stringify({ spool: 1, bodyRef: ref });
}

/** The reference of a body written by {@link encodeBodyRef}, or `undefined` for any other body. */
export function decodeBodyRef(body: string): BlobRef | undefined {
  if (!body.startsWith('{"spool":1,"bodyRef":') || body.length > 4096) return undefined;
  try {
    const value = JSON.parse(body) as { bodyRef?: unknown };
    return isBlobRef(value.bodyRef) ? value.bodyRef : undefined;
  } catch {
    return undefined;
  }
}
