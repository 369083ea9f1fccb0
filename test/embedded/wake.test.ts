import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { OutgoingMessage } from 'spool-tasks';
import { type EmbeddedBackend, type EmbeddedBackendOptions, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS } from '../../lib/backend/transport.js';
import { SCHEMA_VERSION } from '../../lib/embedded/database.js';
import { LISTENER_TTL_MS, RENEW_WITHIN_MS, WAKE_ADDRESS } from '../../lib/embedded/wake.js';

const dirs: string[] = [];
const opened: EmbeddedBackend[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  for (const socket of sockets.splice(0)) socket.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = join(tmpdir(), `spool-wake-test-${randomUUID()}`);
  dirs.push(dir);
  return join(dir, 'spool.db');
}

function open(options: EmbeddedBackendOptions = {}): EmbeddedBackend {
  const backend = openEmbeddedBackend({ path: tempPath(), ...options });
  opened.push(backend);
  return backend;
}

function msg(id: string): OutgoingMessage {
  return { body: JSON.stringify({ id }), deduplicationId: id, groupId: 'g' };
}

interface ListenerRow {
  readonly queue: string;
  readonly port: number;
  readonly token: string;
  readonly pid: number;
  readonly expires_at: number;
}

/** The rows of `wake_listeners`, read through a connection of its own. */
function listeners(path: string): ListenerRow[] {
  const raw = new Database(path);
  try {
    return raw.prepare('SELECT queue, port, token, pid, expires_at FROM wake_listeners').all() as ListenerRow[];
  } finally {
    raw.close();
  }
}

/** Run `sql` on the file through a connection of its own. */
function exec(path: string, sql: string): void {
  const raw = new Database(path);
  try {
    raw.exec(sql);
  } finally {
    raw.close();
  }
}

/**
 * Start `fixtures/wait.ts` in a child process: `ready` resolves once its next long poll waits
 * (registered for wake-ups), `result` with what that long poll received and when it returned.
 */
function waitInChild(path: string, sleepMs: number) {
  const fixture = fileURLToPath(new URL('./fixtures/wait.ts', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=spool-source', '--import', 'tsx', fixture, path, String(sleepMs)],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
    child.on('error', reject);
    void exited.then(() => reject(new Error(`child exited before ready: ${stderr}`)));
  });
  const result = exited.then(([code]) => {
    if (code !== 0) throw new Error(`child exited with ${String(code)}: ${stderr}`);
    return JSON.parse(stdout.slice('ready\n'.length)) as { ids: string[]; at: number };
  });
  return { pid: child.pid, ready, result };
}

/** A UDP socket on 127.0.0.1 that collects the datagrams it gets. */
async function fakeListener(): Promise<{ port: number; datagrams: unknown[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const datagrams: unknown[] = [];
  socket.on('message', (data) => datagrams.push(JSON.parse(data.toString('utf8'))));
  socket.bind(0, WAKE_ADDRESS);
  await once(socket, 'listening');
  return { port: socket.address().port, datagrams };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('cross-process wake-ups of the embedded queue', () => {
  // The child's fallback poll sleeps 20 s, as long as its whole wait: without a wake-up its receive
  // could only return at the end of the wait, 20 s after it started.
  it('GIVEN a receive waiting in another process, its polling slower than its wait WHEN a message is sent THEN it returns the message long before a poll could have', async () => {
    const sender = open();
    const child = waitInChild(sender.path, MAX_WAIT_SECONDS * 1000);
    await child.ready;
    // The child registered its port on 127.0.0.1 for the task queue.
    const rows = listeners(sender.path);
    expect(rows).toEqual([expect.objectContaining({ queue: 'spool', pid: child.pid })]);
    expect(rows[0]?.expires_at).toBeGreaterThan(Date.now() + RENEW_WITHIN_MS);

    const sentAt = Date.now();
    await sender.transport.tasks.send([msg('a')]);
    const { ids, at } = await child.result;

    expect(ids).toEqual(['a']);
    // Far below the 20 s a poll would have taken, yet lenient for a loaded machine.
    expect(at - sentAt).toBeLessThan(10_000);
    // The child unregistered when it closed (and exited on its own: the socket does not hold a process).
    expect(listeners(sender.path)).toEqual([]);
  }, 60_000);

  it.each([
    ['lost (the datagram carries a token the child ignores)', true],
    ['never sent (crossProcessWake: false on the sender)', false],
  ])(
    'GIVEN a receive waiting in another process WHEN the wake-up is %s THEN polling still delivers the message',
    async (_, wake) => {
      const sender = open({ crossProcessWake: wake });
      const child = waitInChild(sender.path, 200);
      await child.ready;
      exec(sender.path, "UPDATE wake_listeners SET token = 'lost'");

      await sender.transport.tasks.send([msg('a')]);
      const { ids } = await child.result;

      expect(ids).toEqual(['a']);
    },
    60_000,
  );

  it('GIVEN a listener in another process WHEN 5,000 messages are sent in one call (10 transactions) THEN it gets one datagram', async () => {
    const sender = open();
    const { port, datagrams } = await fakeListener();
    exec(
      sender.path,
      `INSERT INTO wake_listeners (queue, port, token, pid, expires_at) VALUES ('spool', ${port}, 'tok', 1, ${Date.now() + LISTENER_TTL_MS}), ('other', ${port}, 'tok', 1, ${Date.now() + LISTENER_TTL_MS})`,
    );

    await sender.transport.tasks.send(Array.from({ length: 5000 }, (_, i) => msg(`m${i}`)));
    await until(() => datagrams.length > 0, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Only the queue that was sent to, in one datagram for the whole send.
    expect(datagrams).toEqual([{ kind: 'spool.wake', token: 'tok', queues: ['spool'] }]);
  });

  it('GIVEN listeners that expired or belong to the sender itself WHEN it sends THEN nothing is sent to them', async () => {
    const sender = open();
    const stale = await fakeListener();
    exec(
      sender.path,
      `INSERT INTO wake_listeners (queue, port, token, pid, expires_at) VALUES ('spool', ${stale.port}, 'tok', 1, ${Date.now() - 1})`,
    );
    // The sender's own long poll registers it: its sends wake it in-process, not by datagram.
    await sender.transport.tasks.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 1 });
    const own = listeners(sender.path);
    // Its registration swept the expired row.
    expect(own).toEqual([expect.objectContaining({ queue: 'spool', pid: process.pid })]);
    const ownPort = own[0]?.port ?? 0;

    const waiting = sender.transport.tasks.receive({
      maxMessages: 1,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 5,
    });
    const started = Date.now();
    await sender.transport.tasks.send([msg('a')]);
    expect((await waiting).map((m) => m.deduplicationId)).toEqual(['a']);
    expect(Date.now() - started).toBeLessThan(4000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stale.datagrams).toEqual([]);

    // WHEN it closes THEN its row is deleted and its socket closed (the port can be bound again).
    sender.close();
    expect(listeners(sender.path)).toEqual([]);
    const again = createSocket('udp4');
    sockets.push(again);
    again.bind(ownPort, WAKE_ADDRESS);
    await once(again, 'listening');
  });

  it('GIVEN a file of schema version 3 WHEN opened THEN it is migrated and gets the wake_listeners table', () => {
    const backend = open();
    backend.close();
    exec(backend.path, 'DROP TABLE wake_listeners; PRAGMA user_version = 3;');
    const reopened = openEmbeddedBackend({ path: backend.path });
    opened.push(reopened);
    const raw = new Database(backend.path);
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'wake_listeners'").pluck().get()).toBe(
        'wake_listeners',
      );
    } finally {
      raw.close();
    }
  });

  it('GIVEN the renewal window WHEN compared with the longest long poll THEN a registration found fresh outlives any sleep', () => {
    expect(RENEW_WITHIN_MS).toBeGreaterThan(MAX_WAIT_SECONDS * 1000);
    expect(RENEW_WITHIN_MS).toBeLessThan(LISTENER_TTL_MS);
  });

  it('GIVEN invalid longPoll options WHEN opening THEN a ConfigurationError names every problem', () => {
    expect(() => open({ longPoll: { firstSleepMs: 0, maxSleepMs: 30_000 } })).toThrow(
      /firstSleepMs must be an integer from 1 to 20000, got 0; maxSleepMs must be an integer from 1 to 20000, got 30000/,
    );
    expect(() => open({ longPoll: { firstSleepMs: 100, maxSleepMs: 50 } })).toThrow(
      /firstSleepMs \(100\) must not exceed maxSleepMs \(50\)/,
    );
  });
});
