/**
 * The embedded file itself: created readable by its owner only (it holds every run's arguments and
 * results), and a file of schema version 5 migrated to per-group deduplication and argument
 * binding with its records intact.
 */

import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../lib/embedded/database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = join(tmpdir(), `spool-file-${randomUUID()}`);
  dirs.push(dir);
  return dir;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the embedded file', () => {
  it('GIVEN a path in a directory that does not exist WHEN opened THEN the directory is 0700 and the file and its WAL 0600', async () => {
    const dir = join(freshDir(), 'nested');
    const path = join(dir, 'spool.db');
    const backend = openEmbeddedBackend({ path, crossProcessWake: false });
    try {
      await backend.store.cancel({ id: 'x', now: Date.now(), expiresAt: Date.now() + 60_000 });
      expect(mode(dir)).toBe(0o700);
      expect(mode(path)).toBe(0o600);
      expect(mode(`${path}-wal`)).toBe(0o600);
    } finally {
      backend.close();
    }
  });

  it('GIVEN an existing file WHEN opened THEN its mode is left as the owner set it', () => {
    const dir = freshDir();
    mkdirSync(dir);
    const path = join(dir, 'shared.db');
    new Database(path).close();
    const before = mode(path);
    openEmbeddedBackend({ path, crossProcessWake: false }).close();
    expect(mode(path)).toBe(before);
  });

  it('GIVEN a file of schema version 5 WHEN opened THEN its records are kept, runs bind their arguments and deduplication is per group', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const path = join(dir, 'v5.db');
    const t0 = Date.now();
    const first = openEmbeddedBackend({ path, now: () => t0, crossProcessWake: false });
    await first.store.cancel({ id: 'kept', now: t0, expiresAt: t0 + 60_000 });
    first.close();
    const raw = new Database(path);
    raw.exec(`ALTER TABLE tasks DROP COLUMN args_hash; ALTER TABLE tasks DROP COLUMN enqueued_by; DROP TABLE dedup;
      CREATE TABLE dedup (queue TEXT NOT NULL, dedup_id TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (queue, dedup_id)) WITHOUT ROWID;
      PRAGMA user_version = 5;`);
    raw.close();
    const reopened = openEmbeddedBackend({ path, now: () => t0, crossProcessWake: false });
    try {
      expect(await reopened.store.get('kept')).toMatchObject({ state: 'cancelled' });
      const claim = { task: 'job', owner: 'w', now: t0, leaseMs: 1000, maxAttempts: 3, expiresAt: t0 + 60_000 };
      expect(await reopened.store.claim({ ...claim, id: 'run', argsHash: 'h1', enqueuedBy: 'me' })).toMatchObject({
        outcome: 'claimed',
        record: { argsHash: 'h1', enqueuedBy: 'me' },
      });
      expect(
        await reopened.store.claim({ ...claim, id: 'run', owner: 'w2', now: t0 + 2000, argsHash: 'h2' }),
      ).toMatchObject({
        outcome: 'conflict',
      });
      const queue = reopened.transport.tasks;
      await queue.send([
        { body: 'a', deduplicationId: 'same', groupId: 'a' },
        { body: 'b', deduplicationId: 'same', groupId: 'b' },
      ]);
      expect((await queue.stats()).visible).toBe(2);
    } finally {
      reopened.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      check.close();
    }
  });
});
