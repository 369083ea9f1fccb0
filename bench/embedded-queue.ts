/**
 * Throughput of the embedded queue in one process: send N messages in batches of 10, then
 * receive 10 + delete 10 until the queue is empty. Prints messages/s for each phase and overall.
 *
 * Run: `npx tsx bench/embedded-queue.ts [count]` (default 10,000). Uses a temporary file.
 *
 * @module
 */

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutgoingMessage } from '../lib/backend/transport.js';
import { openEmbeddedBackend } from '../lib/embedded/index.js';

const count = Number(process.argv[2] ?? 10_000);
const dir = join(tmpdir(), `spool-bench-${process.pid}-${Date.now().toString(36)}`);
const backend = openEmbeddedBackend({ path: join(dir, 'bench.db') });
const queue = backend.transport.tasks;
const body = JSON.stringify({ v: 1, task: 'bench', args: { n: 0, text: 'x'.repeat(200) } });

try {
  const started = performance.now();
  for (let i = 0; i < count; i += 10) {
    const batch: OutgoingMessage[] = [];
    for (let j = i; j < Math.min(i + 10, count); j++) {
      batch.push({ body, deduplicationId: `m-${j}`, groupId: `g-${j % 100}` });
    }
    await queue.send(batch);
  }
  const sent = performance.now();
  let received = 0;
  for (;;) {
    const messages = await queue.receive({ maxMessages: 10, visibilityTimeoutSeconds: 30, waitTimeSeconds: 0 });
    if (messages.length === 0) break;
    received += messages.length;
    await queue.delete(messages.map((m) => m.receiptHandle));
  }
  const done = performance.now();
  const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en-US');
  console.log(`sent ${count} in ${(sent - started).toFixed(0)} ms (${rate(count, sent - started)} msg/s)`);
  console.log(`received+deleted ${received} in ${(done - sent).toFixed(0)} ms (${rate(received, done - sent)} msg/s)`);
  console.log(`overall send+receive+delete: ${rate(count, done - started)} msg/s`);
  if (received !== count) throw new Error(`expected ${count} messages, received ${received}`);
} finally {
  backend.close();
  rmSync(dir, { recursive: true, force: true });
}
