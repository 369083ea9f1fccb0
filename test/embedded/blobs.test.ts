/**
 * The embedded blob store: blobs in table `blobs` of the file, read as absent from their expiry,
 * swept after it; a put of a key again keeps the later expiry; a file of schema version 4 is
 * migrated (the table, and the records' `result_ref` column) with its records intact.
 */

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type EmbeddedBackend, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../lib/embedded/database.js';

const opened: EmbeddedBackend[] = [];
const files: string[] = [];
afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  for (const file of files.splice(0)) rmSync(file, { force: true });
});

const DAY_MS = 86_400_000;

function open(now: () => number): EmbeddedBackend {
  const path = join(tmpdir(), `spool-blobs-${randomUUID()}.db`);
  files.push(path, `${path}-wal`, `${path}-shm`);
  const backend = openEmbeddedBackend({ path, now, crossProcessWake: false });
  opened.push(backend);
  return backend;
}

function rows(path: string): number {
  const raw = new Database(path, { readonly: true });
  try {
    return (raw.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

describe('GIVEN the embedded blob store', () => {
  it('WHEN a blob is put THEN it reads back until its expiry, and as absent from then on', async () => {
    const t0 = Date.now();
    const backend = open(() => t0);
    const blobs = backend.store.blobs;
    if (blobs === undefined) throw new Error('the embedded backend has no blob store');
    await blobs.put('blobs/1d/result/q/a/00', '"big"', t0 + DAY_MS);
    expect(await blobs.get('blobs/1d/result/q/a/00', t0)).toBe('"big"');
    expect(await blobs.get('blobs/1d/result/q/a/00', t0 + DAY_MS)).toBeUndefined();
    expect(await blobs.get('blobs/1d/result/q/none/00', t0)).toBeUndefined();
  });

  it('WHEN a key is put again with an earlier expiry THEN the later one is kept', async () => {
    const t0 = Date.now();
    const backend = open(() => t0);
    const blobs = backend.store.blobs;
    if (blobs === undefined) throw new Error('no blob store');
    await blobs.put('k', 'v', t0 + 2 * DAY_MS);
    await blobs.put('k', 'v', t0 + DAY_MS);
    expect(await blobs.get('k', t0 + DAY_MS + 1)).toBe('v');
  });

  it('WHEN blobs expire THEN the sweeps of later writes delete them, and keep the live ones', async () => {
    let clock = Date.now();
    const backend = open(() => clock);
    const blobs = backend.store.blobs;
    if (blobs === undefined) throw new Error('no blob store');
    for (let i = 0; i < 5; i++) await blobs.put(`old${i}`, 'x', clock + DAY_MS);
    await blobs.put('live', 'y', clock + 10 * DAY_MS);
    expect(rows(backend.path)).toBe(6);
    clock += 2 * DAY_MS;
    // Puts sweep every 10; the task store's writes sweep too (every 100).
    for (let i = 0; i < 10; i++) await blobs.put(`new${i}`, 'z', clock + DAY_MS);
    expect(rows(backend.path)).toBe(11);
    expect(await blobs.get('live', clock)).toBe('y');
    for (let i = 0; i < 100; i++) await backend.store.cancel({ id: `c${i}`, now: clock, expiresAt: clock + DAY_MS });
    clock += 2 * DAY_MS;
    for (let i = 0; i < 100; i++) await backend.store.cancel({ id: `d${i}`, now: clock, expiresAt: clock + DAY_MS });
    expect(rows(backend.path)).toBe(1);
    expect(await blobs.get('live', clock)).toBe('y');
  });

  it('GIVEN a file of schema version 4 WHEN opened THEN migrated: the blobs table and result_ref column are added, records kept', async () => {
    const t0 = Date.now();
    const first = open(() => t0);
    const path = first.path;
    await first.store.cancel({ id: 'kept', now: t0, expiresAt: t0 + DAY_MS });
    first.close();
    opened.splice(opened.indexOf(first), 1);
    const raw = new Database(path);
    raw.exec('DROP TABLE blobs; ALTER TABLE tasks DROP COLUMN result_ref; PRAGMA user_version = 4;');
    raw.close();
    const reopened = openEmbeddedBackend({ path, now: () => t0, crossProcessWake: false });
    opened.push(reopened);
    expect(await reopened.store.get('kept')).toMatchObject({ state: 'cancelled' });
    await reopened.store.blobs?.put('k', 'v', t0 + DAY_MS);
    expect(await reopened.store.blobs?.get('k', t0)).toBe('v');
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const columns = check.prepare('PRAGMA table_info(tasks)').all() as { name: string }[];
      expect(columns.map((c) => c.name)).toContain('result_ref');
    } finally {
      check.close();
    }
  });
});
