/**
 * {@link EmbeddedBlobStore}: the blob port (`lib/backend/blobs.ts`) on the embedded SQLite file,
 * table `blobs (key, body, expires_at)`. A blob with `expires_at ≤ now` reads as absent; expired
 * blobs are swept opportunistically, {@link BLOB_SWEEP_LIMIT} at a time, every
 * {@link BLOB_SWEEP_EVERY} puts and with each sweep of the task store (`./store.ts`), so they go even
 * when no blob is written any more. Writes go through the file's group commit like every other.
 *
 * @module
 */

import type { BlobStore } from '../backend/blobs.js';
import type { EmbeddedDatabase } from './database.js';

/** Sweep expired blobs every this many puts. */
const BLOB_SWEEP_EVERY = 10;
/** Most expired blobs one sweep deletes (blobs may be large: a few at a time). */
export const BLOB_SWEEP_LIMIT = 20;
/** Bytes per unit of group-commit weight (a 64 KiB blob weighs as much as a record). */
const BYTES_PER_WEIGHT = 64 * 1024;

/** The blob store of the embedded backend. */
export class EmbeddedBlobStore implements BlobStore {
  readonly #db: EmbeddedDatabase;
  readonly #put: (key: string, body: string, expiresAt: number) => void;
  readonly #get: (key: string, now: number) => string | undefined;
  readonly #sweep: (now: number) => void;
  readonly #now: () => number;
  #puts = 0;

  /** Bind to `db` (prepares the statements once); `now` is the clock of the sweeps. */
  constructor(db: EmbeddedDatabase, now: () => number) {
    this.#db = db;
    this.#now = now;
    const sqlite = db.sqlite;
    // A put of a key that exists keeps the later expiry: a key names its content, so the body is the same.
    const upsert = sqlite.prepare<[string, string, number]>(
      `INSERT INTO blobs (key, body, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET body = excluded.body, expires_at = max(expires_at, excluded.expires_at)`,
    );
    const select = sqlite
      .prepare<[string, number], string>('SELECT body FROM blobs WHERE key = ? AND expires_at > ?')
      .pluck();
    const sweep = sqlite.prepare<[number, number]>(
      'DELETE FROM blobs WHERE key IN (SELECT key FROM blobs WHERE expires_at <= ? LIMIT ?)',
    );
    this.#put = (key, body, expiresAt) => {
      upsert.run(key, body, expiresAt);
    };
    this.#get = (key, now) => select.get(key, now);
    this.#sweep = (now) => {
      sweep.run(now, BLOB_SWEEP_LIMIT);
    };
  }

  /** Write a blob (see {@link BlobStore.put}). */
  async put(key: string, body: string, expiresAt: number): Promise<void> {
    const weight = 1 + Math.floor(body.length / BYTES_PER_WEIGHT);
    await this.#db.write(() => {
      this.#put(key, body, expiresAt);
      this.#puts += 1;
      if (this.#puts % BLOB_SWEEP_EVERY === 0) this.#sweep(this.#now());
    }, weight);
  }

  /** Read a blob (see {@link BlobStore.get}). */
  async get(key: string, now: number): Promise<string | undefined> {
    return this.#get(key, now);
  }

  /** Delete up to {@link BLOB_SWEEP_LIMIT} expired blobs; call inside a write. */
  sweep(now: number): void {
    this.#sweep(now);
  }
}
