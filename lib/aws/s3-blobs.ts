/**
 * {@link S3BlobStore}: the blob port (`lib/backend/blobs.ts`) on an S3 bucket. One object per blob,
 * its key the blob's key (`blobs/<days>d/…`), its body the UTF-8 text, and its expiry in the object
 * metadata `spool-expires-at` (epoch ms): a read after it treats the object as absent, as the
 * embedded store does. S3 deletes objects by the bucket's lifecycle rules, one per retention class
 * (`blobLifecycleRules` in `./layout.ts`), which keep each at least until its expiry.
 *
 * @module
 */

import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../backend/blobs.js';

/** The object metadata that holds a blob's expiry (epoch ms). */
export const EXPIRES_AT_METADATA = 'spool-expires-at';

/** The blob store of the AWS backend. */
export class S3BlobStore implements BlobStore {
  readonly #s3: S3Client;
  readonly #bucket: string;

  /** Blobs in `bucket`, through `s3`. */
  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  /** Write a blob (see {@link BlobStore.put}): `PutObject`, server-side encrypted by the bucket's default. */
  async put(key: string, body: string, expiresAt: number): Promise<void> {
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json; charset=utf-8',
        Metadata: { [EXPIRES_AT_METADATA]: String(expiresAt) },
      }),
    );
  }

  /** Read a blob (see {@link BlobStore.get}): `GetObject`; a missing key or a blob past its expiry is `undefined`. */
  async get(key: string, now: number): Promise<string | undefined> {
    try {
      const out = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      const expiresAt = Number(out.Metadata?.[EXPIRES_AT_METADATA]);
      if (Number.isFinite(expiresAt) && expiresAt <= now) {
        await out.Body?.transformToString('utf-8'); // release the connection
        return undefined;
      }
      return (await out.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound')) return undefined;
      throw error;
    }
  }
}
