/**
 * The blob port: the claim-check's store, where values too large for a message or a record are
 * kept. Arguments whose message would be over SQS's 1 MiB, results that would make a record larger
 * than DynamoDB's 400 KB item, error messages longer than `MAX_ERROR_MESSAGE_BYTES` and dead-letter
 * copies that would not fit the dead-letter queue are each written as one blob under a
 * deterministic key (`lib/protocol/blob-ref.ts`), and the message or record carries its
 * {@link BlobRef}. The embedded backend keeps blobs in table `blobs` of its file; the AWS backend in
 * an S3 bucket.
 *
 * **The expiry rule** (written here once): a blob is never deleted before the message or the record
 * that points to it. Its expiry is the latest expiry of what points to it, plus
 * `BLOB_EXPIRY_MARGIN_MS` (1 day):
 * - arguments: the run's start (now, or its `notBefore`) + the task queue's and the dead-letter
 *   queue's longest retention (`MAX_RETENTION_SECONDS` each: the message may wait out both, and a
 *   redrive within them) + the run's retention (`resultTtlSeconds`) — {@link argumentsBlobExpiry};
 * - a result or an error message: the record's `expiresAt` — {@link recordBlobExpiry};
 * - a dead-letter copy's body: the dead-letter queue's retention — {@link deadLetterBlobExpiry}.
 *
 * The embedded store deletes a blob at its expiry (its sweep); S3 deletes it by the lifecycle rule
 * of its retention class, which is at least as long. A reader treats a blob past its expiry as
 * absent, on both backends. A reference that outlives its blob (a message redriven after more
 * than the queues' retention) reads as missing, and the run is dead-lettered with `MissingBlob`.
 *
 * @module
 */

import { createHash } from 'node:crypto';
import { type BlobKind, type BlobRef, blobKey } from '../protocol/blob-ref.js';
import { BLOB_EXPIRY_MARGIN_MS, MAX_RETENTION_SECONDS } from '../protocol/limits.js';

export type { BlobKind, BlobRef };

/**
 * Where blobs are kept. Keys are written once per content (a key names its content's digest), so a
 * `put` of a key that exists writes the same content again; `put` may extend the expiry, never
 * shorten it below what an earlier `put` of the key asked for.
 */
export interface BlobStore {
  /** Write `body` (UTF-8 text) under `key`, to be kept until at least `expiresAt` (epoch ms). */
  put(key: string, body: string, expiresAt: number): Promise<void>;
  /** Read the blob at `key`; `undefined` when there is none, or it expired (`expiresAt ≤ now`). */
  get(key: string, now: number): Promise<string | undefined>;
}

/** A blob ready to write: its reference, its content and its expiry. */
export interface PendingBlob {
  readonly ref: BlobRef;
  readonly body: string;
  /** Keep until, epoch ms. */
  readonly expiresAt: number;
}

/** What {@link prepareBlob} needs: what the blob holds, whose it is, and how long to keep it. */
export interface BlobSubject {
  readonly kind: BlobKind;
  readonly queue: string;
  readonly id: string;
  readonly now: number;
  readonly expiresAt: number;
}

/** The reference, key and content of `body` as a blob of `subject` (nothing is written). */
export function prepareBlob(subject: BlobSubject, body: string): PendingBlob {
  const sha256 = createHash('sha256').update(body, 'utf8').digest('hex');
  const key = blobKey({ ...subject, sha256 });
  return { ref: { key, bytes: Buffer.byteLength(body, 'utf8'), sha256 }, body, expiresAt: subject.expiresAt };
}

/** Write `body` as a blob of `subject`; resolves its reference once it is written. */
export async function putBlob(blobs: BlobStore, subject: BlobSubject, body: string): Promise<BlobRef> {
  const pending = prepareBlob(subject, body);
  await blobs.put(pending.ref.key, pending.body, pending.expiresAt);
  return pending.ref;
}

/** What {@link readBlob} gives: the content, or why it cannot be had. */
export type BlobRead = { readonly ok: true; readonly body: string } | { readonly ok: false; readonly reason: string };

/**
 * Read the blob `ref` points to and check it against the reference (size and SHA-256). Does not
 * throw for a blob that is missing or does not match (`ok: false`, with a reason naming the key);
 * rejects only when the store itself fails.
 */
export async function readBlob(blobs: BlobStore | undefined, ref: BlobRef, now: number): Promise<BlobRead> {
  if (blobs === undefined) {
    return {
      ok: false,
      reason: `the value is a blob (${ref.key}, ${ref.bytes} bytes), and this backend has no blob store. On AWS set SPOOL_BUCKET (or the bucketName option) to the app's bucket (the TaskQueue construct and \`spool provision\` create it).`,
    };
  }
  const body = await blobs.get(ref.key, now);
  if (body === undefined) {
    return {
      ok: false,
      reason: `blob ${ref.key} (${ref.bytes} bytes) is missing: it expired, was deleted, or was never written. Blobs are kept as long as the messages and records that point to them (lib/backend/blobs.ts); enqueue the run again.`,
    };
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  const sha256 = bytes === ref.bytes ? createHash('sha256').update(body, 'utf8').digest('hex') : undefined;
  if (sha256 !== ref.sha256) {
    return {
      ok: false,
      reason: `blob ${ref.key} does not match its reference: ${bytes} bytes${sha256 === undefined ? '' : `, SHA-256 ${sha256}`}, expected ${ref.bytes} bytes with SHA-256 ${ref.sha256}. It was overwritten or damaged; enqueue the run again.`,
    };
  }
  return { ok: true, body };
}

const SECOND_MS = 1000;
const QUEUES_RETENTION_MS = 2 * MAX_RETENTION_SECONDS * SECOND_MS;

/**
 * Expiry of an arguments blob (see the module's expiry rule): from the run's start (`startAt`, epoch
 * ms: now, or its `notBefore`), the task queue's and the dead-letter queue's retention, the run's
 * retention (`retentionMs`), and the margin.
 */
export function argumentsBlobExpiry(startAt: number, retentionMs: number): number {
  return startAt + QUEUES_RETENTION_MS + retentionMs + BLOB_EXPIRY_MARGIN_MS;
}

/** Expiry of a result or error-message blob: the record's `expiresAt` and the margin. */
export function recordBlobExpiry(recordExpiresAt: number): number {
  return recordExpiresAt + BLOB_EXPIRY_MARGIN_MS;
}

/** Expiry of a dead-letter copy's body: the dead-letter queue's retention from `now`, and the margin. */
export function deadLetterBlobExpiry(now: number): number {
  return now + MAX_RETENTION_SECONDS * SECOND_MS + BLOB_EXPIRY_MARGIN_MS;
}
