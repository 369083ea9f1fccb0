import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { OutgoingMessage } from 'spool-tasks';
import { type EmbeddedBackend, type EmbeddedBackendOptions, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
const opened: EmbeddedBackend[] = [];
const raws: Database.Database[] = [];

afterEach(() => {
  for (const raw of raws.splice(0)) raw.close();
  for (const backend of opened.splice(0)) backend.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(options: EmbeddedBackendOptions = {}): EmbeddedBackend {
  const dir = join(tmpdir(), `spool-group-commit-test-${randomUUID()}`);
  dirs.push(dir);
  const backend = openEmbeddedBackend({ path: join(dir, 'spool.db'), ...options });
  opened.push(backend);
  return backend;
}

/** Another connection to the file (as another process would have), holding the write lock. */
function holdWriteLock(path: string): Database.Database {
  const raw = new Database(path);
  raws.push(raw);
  raw.prepare('BEGIN IMMEDIATE').run();
  return raw;
}

function msg(id: string): OutgoingMessage {
  return { body: JSON.stringify({ id }), deduplicationId: id, groupId: 'g' };
}

describe('group commit under another connection’s write lock', () => {
  it('GIVEN another connection holding the write lock WHEN a send waits for it THEN the event loop keeps running and the send commits once the lock is free', async () => {
    const backend = open();
    const raw = holdWriteLock(backend.path);

    let sent = false;
    const sending = backend.transport.tasks.send([msg('a')]).then(() => {
      sent = true;
    });
    // Timers still fire while the send waits (SQLite's own busy handler would block the loop).
    let ticks = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ticks += 1;
    }
    expect(ticks).toBe(5);
    expect(sent).toBe(false);

    raw.prepare('COMMIT').run();
    await sending;
    expect(await backend.transport.tasks.stats()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('GIVEN a lock held past the busy timeout WHEN a send waits for it THEN it rejects with SQLITE_BUSY, and later writes still commit', async () => {
    const backend = open({ busyTimeoutMs: 200 });
    const raw = holdWriteLock(backend.path);
    const started = performance.now();

    await expect(backend.transport.tasks.send([msg('a')])).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);

    raw.prepare('COMMIT').run();
    await backend.transport.tasks.send([msg('b')]);
    expect(await backend.transport.tasks.stats()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('GIVEN a send waiting for the lock WHEN the lock is freed and the backend closes at once THEN close commits it', async () => {
    const backend = open();
    const raw = holdWriteLock(backend.path);
    const sending = backend.transport.tasks.send([msg('a')]);
    await new Promise((resolve) => setTimeout(resolve, 20));

    raw.prepare('COMMIT').run();
    backend.close();

    await sending;
    const check = new Database(backend.path);
    raws.push(check);
    expect(check.prepare("SELECT count(*) FROM messages WHERE queue = 'spool'").pluck().get()).toBe(1);
  });
});
