import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ConfigurationError, MAX_MESSAGE_BYTES, type OutgoingMessage, type Queue } from 'spool-tasks';
import { type EmbeddedBackend, type EmbeddedBackendOptions, openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../lib/embedded/database.js';

/** Start `drain.ts` in a child process: `ready` resolves once it polls, `ids` with what it received. */
function drainInChild(fixture: string, cwd: string, path: string) {
  const child = spawn(process.execPath, ['--conditions=spool-source', '--import', 'tsx', fixture, path], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
    child.on('error', reject);
    child.on('exit', () => reject(new Error(`child exited before ready: ${stderr}`)));
  });
  const ids = new Promise<string[]>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child exited with ${String(code)}: ${stderr}`));
      else resolve(JSON.parse(stdout.slice('ready\n'.length)) as string[]);
    });
  });
  return { ready, ids };
}
const dirs: string[] = [];
const opened: EmbeddedBackend[] = [];
const T0 = 1_700_000_000_000;
let clock = T0;
const now = () => clock;

function tempPath(): string {
  const dir = join(tmpdir(), `spool-queue-test-${randomUUID()}`);
  dirs.push(dir);
  return join(dir, 'nested', 'spool.db');
}

function open(options: EmbeddedBackendOptions = {}): EmbeddedBackend {
  const backend = openEmbeddedBackend({ path: tempPath(), now, ...options });
  opened.push(backend);
  return backend;
}

function msg(id: string, groupId = 'g', attributes?: Record<string, string>): OutgoingMessage {
  return { body: JSON.stringify({ id }), deduplicationId: id, groupId, ...(attributes ? { attributes } : {}) };
}

const receiveNow = (queue: Queue, maxMessages = 10, visibilityTimeoutSeconds = 30) =>
  queue.receive({ maxMessages, visibilityTimeoutSeconds, waitTimeSeconds: 0 });

const ids = (messages: readonly { readonly deduplicationId: string }[]) => messages.map((m) => m.deduplicationId);

afterEach(() => {
  for (const backend of opened.splice(0)) backend.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  clock = T0;
});

describe('EmbeddedQueue', () => {
  it('GIVEN a sent message WHEN it is received THEN every field comes back', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a', 'g1', { reason: 'x' })]);
    const [received, ...rest] = await receiveNow(transport.tasks);
    expect(rest).toEqual([]);
    expect(received).toMatchObject({
      body: '{"id":"a"}',
      groupId: 'g1',
      deduplicationId: 'a',
      receiveCount: 1,
      sentAt: T0,
      attributes: { reason: 'x' },
    });
    expect(received?.messageId).toEqual(expect.any(String));
  });

  it('GIVEN a deleted message WHEN its deduplication id is sent again within 5 minutes THEN it is dropped', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a')]);
    const first = await receiveNow(transport.tasks);
    await transport.tasks.delete(first.map((m) => m.receiptHandle));
    clock += 299_999;
    await transport.tasks.send([msg('a'), msg('a')]);
    expect(await transport.tasks.stats()).toEqual({ visible: 0, inFlight: 0 });
    expect(await receiveNow(transport.tasks)).toEqual([]);
  });

  it('GIVEN a deduplication id sent 5 minutes ago WHEN it is sent again THEN it is accepted', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a')]);
    clock += 300_000;
    await transport.tasks.send([msg('a')]);
    expect(await transport.tasks.stats()).toEqual({ visible: 2, inFlight: 0 });
  });

  it('GIVEN the same deduplication id on two queues WHEN both are sent THEN both are kept', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a')]);
    await transport.deadLetters.send([msg('a')]);
    expect(ids(await receiveNow(transport.deadLetters))).toEqual(['a']);
  });

  it('GIVEN a group with a message in flight WHEN receiving THEN the group is blocked and order is kept', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a1', 'A'), msg('a2', 'A'), msg('b1', 'B'), msg('a3', 'A')]);
    const first = await receiveNow(transport.tasks, 1);
    expect(ids(first)).toEqual(['a1']);
    expect(ids(await receiveNow(transport.tasks))).toEqual(['b1']);
    expect(await receiveNow(transport.tasks)).toEqual([]);
    await transport.tasks.delete(first.map((m) => m.receiptHandle));
    expect(ids(await receiveNow(transport.tasks))).toEqual(['a2', 'a3']);
  });

  it('GIVEN the head of a group visible again WHEN a later message is still in flight THEN the group stays blocked', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a1'), msg('a2')]);
    const [a1, a2] = await receiveNow(transport.tasks);
    expect(await transport.tasks.changeVisibility(a1?.receiptHandle ?? '', 0)).toBe(true);
    expect(await receiveNow(transport.tasks)).toEqual([]);
    expect(await transport.tasks.changeVisibility(a2?.receiptHandle ?? '', 0)).toBe(true);
    const again = await receiveNow(transport.tasks);
    expect(again.map((m) => [m.deduplicationId, m.receiveCount])).toEqual([
      ['a1', 2],
      ['a2', 2],
    ]);
  });

  it('GIVEN several messages of one group WHEN one receive asks for 10 THEN it returns them in send order', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('1'), msg('2'), msg('3'), msg('x', 'other'), msg('4')]);
    expect(ids(await receiveNow(transport.tasks))).toEqual(['1', '2', '3', 'x', '4']);
  });

  it('GIVEN 25 messages WHEN sent in one call THEN all are stored (split into batches)', async () => {
    const { transport } = open();
    await transport.tasks.send(Array.from({ length: 25 }, (_, i) => msg(`m${i}`, `g${i}`)));
    expect(await transport.tasks.stats()).toEqual({ visible: 25, inFlight: 0 });
  });

  it('GIVEN a received message WHEN its visibility expires THEN it is redelivered with receiveCount + 1', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a'), msg('b')]);
    const [first] = await receiveNow(transport.tasks, 1, 30);
    clock += 29_999;
    expect(await receiveNow(transport.tasks)).toEqual([]);
    clock += 1;
    const again = await receiveNow(transport.tasks, 1);
    expect(again[0]?.messageId).toBe(first?.messageId);
    expect(again[0]?.receiveCount).toBe(2);
    expect(again[0]?.receiptHandle).not.toBe(first?.receiptHandle);
    // The first handle is stale now: deleting with it is a no-op.
    await transport.tasks.delete([first?.receiptHandle ?? '']);
    expect(await transport.tasks.stats()).toEqual({ visible: 1, inFlight: 1 });
  });

  it('GIVEN a received message WHEN changeVisibility is called THEN the timer restarts from now', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a')]);
    const [first] = await receiveNow(transport.tasks, 1, 10);
    const handle = first?.receiptHandle ?? '';
    clock += 5_000;
    expect(await transport.tasks.changeVisibility(handle, 60)).toBe(true);
    clock += 59_999;
    expect(await receiveNow(transport.tasks)).toEqual([]);
    expect(await transport.tasks.changeVisibility(handle, 0)).toBe(true);
    const [second] = await receiveNow(transport.tasks);
    expect(second?.receiveCount).toBe(2);
    expect(await transport.tasks.changeVisibility(handle, 30)).toBe(false);
    for (const malformed of [
      'not-a-handle',
      '',
      '.',
      `${handle.split('.')[0]}.`,
      '.2',
      '1.x',
      '-1.2',
      '1.0',
      '1.2.3.4',
      '1.2.',
      '1.2.-3',
    ]) {
      expect(await transport.tasks.changeVisibility(malformed, 30)).toBe(false);
    }
    // A handle from another queue of the file matches nothing there.
    expect(await transport.deadLetters.changeVisibility(second?.receiptHandle ?? '', 30)).toBe(false);
    await transport.tasks.delete(['garbage', '', '1.0']);
    expect(await transport.tasks.stats()).toEqual({ visible: 0, inFlight: 1 });
    await transport.tasks.delete([second?.receiptHandle ?? '']);
    expect(await transport.tasks.changeVisibility(second?.receiptHandle ?? '', 30)).toBe(false);
  });

  it('GIVEN maxReceiveCount 2 WHEN a message is about to be received a 3rd time THEN it moves to the DLQ', async () => {
    const { transport } = open({ maxReceiveCount: 2 });
    await transport.tasks.send([msg('a', 'g', { why: 'boom' }), msg('b', 'g')]);
    expect((await receiveNow(transport.tasks, 1, 0))[0]?.receiveCount).toBe(1);
    expect((await receiveNow(transport.tasks, 1, 0))[0]?.receiveCount).toBe(2);
    const third = await receiveNow(transport.tasks, 1, 0);
    expect(ids(third)).toEqual(['b']);
    const [dead, ...rest] = await receiveNow(transport.deadLetters);
    expect(rest).toEqual([]);
    expect(dead).toMatchObject({ deduplicationId: 'a', groupId: 'g', attributes: { why: 'boom' }, receiveCount: 1 });
    expect(await transport.tasks.stats()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('GIVEN out-of-range receive options WHEN receiving THEN a ConfigurationError names value and range', async () => {
    const { transport } = open();
    const bad = [
      { maxMessages: 0, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 },
      { maxMessages: 11, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 },
      { maxMessages: 1.5, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 },
      { maxMessages: 1, visibilityTimeoutSeconds: -1, waitTimeSeconds: 0 },
      { maxMessages: 1, visibilityTimeoutSeconds: 43_201, waitTimeSeconds: 0 },
      { maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 21 },
    ];
    for (const options of bad) {
      await expect(transport.tasks.receive(options)).rejects.toThrow(ConfigurationError);
    }
    await expect(
      transport.tasks.receive({ maxMessages: 11, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 }),
    ).rejects.toThrow(/maxMessages must be an integer from 1 to 10, got 11/);
    await expect(transport.tasks.changeVisibility('1.x', 43_201)).rejects.toThrow(/from 0 to 43200, got 43201/);
  });

  it('GIVEN invalid messages WHEN sending THEN a ConfigurationError is thrown and nothing is sent', async () => {
    const { transport } = open();
    const tooBig = '€'.repeat(Math.ceil(MAX_MESSAGE_BYTES / 3) + 1); // fewer chars than bytes
    expect(tooBig.length).toBeLessThan(MAX_MESSAGE_BYTES);
    await expect(transport.tasks.send([{ ...msg('a'), body: tooBig }])).rejects.toThrow(
      /the message is \d+ bytes \(its UTF-8 body and its attributes, as SQS counts them\), the limit is 1048576/,
    );
    await expect(transport.tasks.send([{ ...msg('a'), body: 'x'.repeat(MAX_MESSAGE_BYTES) }])).resolves.toBeUndefined();
    // SQS counts attributes (name, type `String`, value) toward the limit: so does the embedded queue.
    const nearLimit = { ...msg('b'), body: 'x'.repeat(MAX_MESSAGE_BYTES - 10) };
    await expect(transport.tasks.send([{ ...nearLimit, attributes: { k: 'v' } }])).resolves.toBeUndefined(); // 1 + 6 + 1
    await expect(transport.tasks.send([{ ...nearLimit, attributes: { key: 'value' } }])).rejects.toThrow(
      /the message is 1048580 bytes/,
    );
    for (const id of ['', 'x'.repeat(129), 'has space', 'é']) {
      await expect(transport.tasks.send([msg('ok'), msg(id)])).rejects.toThrow(ConfigurationError);
      await expect(transport.tasks.send([msg('ok', id)])).rejects.toThrow(
        /groupId must be 1–128 printable ASCII characters without spaces/,
      );
    }
    await expect(transport.tasks.send([msg('x'.repeat(128), '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')])).resolves.toBe(
      undefined,
    );
    expect(await transport.tasks.stats()).toEqual({ visible: 3, inFlight: 0 });
  });

  it('GIVEN a long poll WHEN this process sends to the queue THEN the receiver wakes at once', async () => {
    const backend = open({ now: Date.now });
    const other = openEmbeddedBackend({ path: backend.path });
    opened.push(other);
    const started = performance.now();
    const polling = backend.transport.tasks.receive({
      maxMessages: 10,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 20,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await other.transport.tasks.send([msg('a')]);
    expect(ids(await polling)).toEqual(['a']);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('GIVEN an empty queue WHEN long polling THEN it returns empty after the wait, or early on abort/close', async () => {
    const backend = open({ now: Date.now });
    let started = performance.now();
    expect(
      await backend.transport.tasks.receive({ maxMessages: 1, visibilityTimeoutSeconds: 1, waitTimeSeconds: 1 }),
    ).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(performance.now() - started).toBeLessThan(3_000);

    started = performance.now();
    const signal = AbortSignal.timeout(100);
    const options = { maxMessages: 1, visibilityTimeoutSeconds: 1, waitTimeSeconds: 20, signal };
    expect(await backend.transport.tasks.receive(options)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);

    started = performance.now();
    const polling = backend.transport.tasks.receive({
      maxMessages: 1,
      visibilityTimeoutSeconds: 1,
      waitTimeSeconds: 20,
    });
    setTimeout(() => backend.close(), 100);
    expect(await polling).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('GIVEN receives in the same turn WHEN they share one write THEN each gets its own messages, in order, groups whole', async () => {
    const { transport } = open();
    // Groups a (3 messages), b (2), then c…h one each.
    const sent = [msg('a1', 'a'), msg('a2', 'a'), msg('b1', 'b'), msg('a3', 'a'), msg('b2', 'b')];
    for (const group of ['c', 'd', 'e', 'f', 'g', 'h']) sent.push(msg(`${group}1`, group));
    await transport.tasks.send(sent);
    const [first, second, third] = await Promise.all([
      receiveNow(transport.tasks, 2),
      receiveNow(transport.tasks, 4),
      receiveNow(transport.tasks, 10),
    ]);
    // In send order, as if one after another; a group never spans two receives. The first receive
    // is full after a1, a2, so a3 (group a, in flight now) waits; b goes to the second receive.
    expect(ids(first ?? [])).toEqual(['a1', 'a2']);
    expect(ids(second ?? [])).toEqual(['b1', 'b2', 'c1', 'd1']);
    expect(ids(third ?? [])).toEqual(['e1', 'f1', 'g1', 'h1']);
    expect(await transport.tasks.stats()).toEqual({ visible: 1, inFlight: 10 });
    await transport.tasks.delete([...(first ?? [])].map((m) => m.receiptHandle));
    expect(ids(await receiveNow(transport.tasks))).toEqual(['a3']);
  });

  it('GIVEN a write of the same transaction that fails WHEN receives share it THEN they run again alone and lose nothing', async () => {
    const backend = open();
    await backend.transport.tasks.send([msg('m1', 'g1'), msg('m2', 'g2'), msg('m3', 'g3')]);
    const receiving = Promise.all([receiveNow(backend.transport.tasks, 1), receiveNow(backend.transport.tasks, 1)]);
    // Same turn: this claim joins the same transaction and breaks it (NOT NULL constraint).
    const broken = backend.store.claim({
      id: 'x',
      task: null as unknown as string,
      owner: 'w',
      now: T0,
      leaseMs: 1000,
      maxAttempts: 1,
      expiresAt: T0 + 10_000,
    });
    await expect(broken).rejects.toThrow(/NOT NULL/);
    const [one, two] = await receiving;
    expect([...ids(one ?? []), ...ids(two ?? [])]).toEqual(['m1', 'm2']);
    expect(await backend.transport.tasks.stats()).toEqual({ visible: 1, inFlight: 2 });
    expect(ids(await receiveNow(backend.transport.tasks))).toEqual(['m3']);
  });

  it('GIVEN two connections to one file WHEN many receives run concurrently THEN no message is delivered twice', async () => {
    const first = open({ now: Date.now });
    const second = openEmbeddedBackend({ path: first.path });
    opened.push(second);
    const count = 400;
    await first.transport.tasks.send(Array.from({ length: count }, (_, i) => msg(`m${i}`, `g${i % 37}`)));
    const seen: string[] = [];
    const drain = async (queue: Queue) => {
      for (;;) {
        const got = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 60, waitTimeSeconds: 0 });
        if (got.length === 0) return;
        seen.push(...got.map((m) => m.messageId));
        await new Promise((resolve) => setImmediate(resolve));
        await queue.delete(got.map((m) => m.receiptHandle));
      }
    };
    const queues = [first.transport.tasks, second.transport.tasks];
    await Promise.all(Array.from({ length: 8 }, (_, i) => drain(queues[i % 2] ?? first.transport.tasks)));
    await Promise.all(Array.from({ length: 8 }, (_, i) => drain(queues[i % 2] ?? first.transport.tasks)));
    expect(seen).toHaveLength(count);
    expect(new Set(seen).size).toBe(count);
  });

  it('GIVEN two child processes WHEN both drain one file concurrently THEN every message is delivered once', async () => {
    const backend = open({ now: Date.now });
    const count = 4000;
    const fixture = fileURLToPath(new URL('./fixtures/drain.ts', import.meta.url));
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const children = [drainInChild(fixture, root, backend.path), drainInChild(fixture, root, backend.path)];
    await Promise.all(children.map((child) => child.ready));
    for (let i = 0; i < count; i += 500) {
      await backend.transport.tasks.send(Array.from({ length: 500 }, (_, j) => msg(`m${i + j}`, `g${(i + j) % 50}`)));
    }
    const perChild = await Promise.all(children.map((child) => child.ids));
    const all = perChild.flat();
    expect(all).toHaveLength(count);
    expect(new Set(all).size).toBe(count);
    expect(await backend.transport.tasks.stats()).toEqual({ visible: 0, inFlight: 0 });
    // Both polled the same queue at the same time (each was polling before the first message was
    // sent). How the messages split between them is up to SQLite's write lock, which is not fair:
    // on a loaded machine one process can take nearly all of them, so the split is not asserted.
    expect(perChild.map((got) => got.length).reduce((a, b) => a + b)).toBe(count);
  }, 60_000);

  it('GIVEN visible and received messages WHEN stats is read THEN it counts visible and in flight', async () => {
    const { transport } = open();
    await transport.tasks.send([msg('a', 'A'), msg('b', 'A'), msg('c', 'C')]);
    expect(await transport.tasks.stats()).toEqual({ visible: 3, inFlight: 0 });
    await receiveNow(transport.tasks, 1, 10);
    expect(await transport.tasks.stats()).toEqual({ visible: 2, inFlight: 1 });
    clock += 10_000;
    expect(await transport.tasks.stats()).toEqual({ visible: 3, inFlight: 0 });
    expect(await transport.deadLetters.stats()).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('openEmbeddedBackend', () => {
  it('GIVEN a path in a missing directory WHEN opened twice THEN both connections share the data', async () => {
    const first = open();
    expect(existsSync(first.path)).toBe(true);
    expect(first.transport.tasks.name).toBe('spool');
    expect(first.transport.deadLetters.name).toBe('spool-dlq');
    const second = openEmbeddedBackend({ path: first.path, now });
    opened.push(second);
    await first.transport.tasks.send([msg('a')]);
    expect(ids(await receiveNow(second.transport.tasks))).toEqual(['a']);
  });

  it('GIVEN a custom queue name WHEN opened THEN the dead-letter queue is <name>-dlq', async () => {
    const backend = open({ queueName: 'orders' });
    expect(backend.transport.tasks.name).toBe('orders');
    expect(backend.transport.deadLetters.name).toBe('orders-dlq');
    // Even a name that is special to EventEmitter works.
    const odd = open({ queueName: 'error' });
    await odd.transport.tasks.send([msg('a')]);
    expect(ids(await receiveNow(odd.transport.tasks))).toEqual(['a']);
  });

  it('GIVEN ":memory:" WHEN opened THEN it works without a file', async () => {
    const backend = openEmbeddedBackend({ path: ':memory:', now });
    opened.push(backend);
    expect(backend.path).toBe(':memory:');
    await backend.transport.tasks.send([msg('a')]);
    expect(ids(await receiveNow(backend.transport.tasks))).toEqual(['a']);
  });

  it('GIVEN a file from a newer schema WHEN opened THEN a ConfigurationError says to upgrade', () => {
    const backend = open();
    backend.close();
    const raw = new Database(backend.path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openEmbeddedBackend({ path: backend.path })).toThrow(/Upgrade spool/);
  });

  it('GIVEN invalid options WHEN opening THEN a ConfigurationError explains the fix', () => {
    expect(() => open({ busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs must be an integer ≥ 0/);
    expect(() => open({ maxReceiveCount: 0 })).toThrow(/maxReceiveCount must be an integer ≥ 1, got 0/);
    expect(() => open({ queueName: '' })).toThrow(/queueName is empty/);
  });
});
