/**
 * The 12-hour visibility window of a receive, and the claim of a retry that is not due: the same on
 * every backend (issue 12). SQS counts its visibility limit from the receive, so every queue
 * refuses a change that would end later, and a message that comes back before its retry's time
 * is turned away by the claim (`not-due`) instead of running early.
 */

import { type Backend, ConfigurationError } from 'spool-tasks';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_VISIBILITY_SECONDS, visibilityLeftSeconds } from '../../lib/backend/transport.js';
import { type BackendFactory, suffix } from './harness.js';

export function receiveWindow(factory: BackendFactory) {
  const opened: Backend[] = [];
  afterEach(async () => {
    for (const backend of opened.splice(0)) await backend.close();
  });
  const open = async () => {
    let offset = 0;
    const clock = {
      now: () => Date.now() + offset,
      advance: (ms: number) => {
        offset += ms;
      },
    };
    const backend = await factory.create({ now: clock.now });
    opened.push(backend);
    return { backend, clock };
  };

  describe('visibility window of a receive', () => {
    it('GIVEN a message received a second ago WHEN its visibility is changed to 12 hours THEN it is refused with what is left; within what is left THEN accepted', async () => {
      const { backend } = await open();
      const queue = backend.transport.tasks;
      const id = `vis-${suffix()}`;
      await queue.send([{ body: JSON.stringify({ id }), deduplicationId: id, groupId: id }]);
      const [message] = await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 5 });
      expect(message?.deduplicationId).toBe(id);
      if (message === undefined) return;
      expect(message.receivedAt).toBeTypeOf('number');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const refused = await queue
        .changeVisibility(message.receiptHandle, MAX_VISIBILITY_SECONDS)
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigurationError);
      expect((refused as Error).message).toMatch(/more than 43200 s \(12 hours\) after the message was received/);
      expect((refused as Error).message).toMatch(/at most \d+ s are left/);
      const left = visibilityLeftSeconds(message.receivedAt ?? 0, Date.now());
      expect(left).toBeLessThan(MAX_VISIBILITY_SECONDS);
      expect(await queue.changeVisibility(message.receiptHandle, left - 5)).toBe(true);
      await queue.delete([message.receiptHandle]);
    });
  });

  describe("receive times on the backend's clock", () => {
    it('GIVEN a backend clock 6 hours ahead WHEN a message is received THEN its receivedAt is on that clock, and its 12 hours are counted on it', async () => {
      const { backend, clock } = await open();
      clock.advance(6 * 3_600_000);
      const queue = backend.transport.tasks;
      const id = `clock-${suffix()}`;
      await queue.send([{ body: JSON.stringify({ id }), deduplicationId: id, groupId: id }]);
      const before = clock.now();
      const [message] = await queue.receive({ maxMessages: 1, visibilityTimeoutSeconds: 30, waitTimeSeconds: 5 });
      expect(message?.deduplicationId).toBe(id);
      if (message === undefined) return;
      expect(message.receivedAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(message.receivedAt).toBeLessThanOrEqual(clock.now());
      // 30 s before the window's end on the backend's clock: a minute is refused, 10 s accepted.
      clock.advance(MAX_VISIBILITY_SECONDS * 1000 - 30_000);
      await expect(queue.changeVisibility(message.receiptHandle, 60)).rejects.toBeInstanceOf(ConfigurationError);
      expect(await queue.changeVisibility(message.receiptHandle, 10)).toBe(true);
      await queue.delete([message.receiptHandle]);
    });
  });

  describe('claim of a retry that is not due', () => {
    it('GIVEN a retrying run due in a minute WHEN it is claimed before THEN not-due with its record, and claimed once due', async () => {
      const { backend, clock } = await open();
      const store = backend.store;
      const id = `due-${suffix()}`;
      const t0 = clock.now();
      const claim = (now: number, owner: string) =>
        store.claim({ id, task: 't', owner, now, leaseMs: 30_000, maxAttempts: 3, expiresAt: now + 3_600_000 });
      expect((await claim(t0, 'w/1')).outcome).toBe('claimed');
      const nextRunAt = t0 + 60_000;
      await store.finish({
        id,
        owner: 'w/1',
        now: t0,
        state: 'retrying',
        error: { name: 'Error', message: 'later' },
        nextRunAt,
        expiresAt: t0 + 3_600_000,
      });
      expect(await claim(t0 + 59_000, 'w/2')).toMatchObject({
        outcome: 'not-due',
        record: { id, state: 'retrying', attempt: 1, nextRunAt },
      });
      expect(await claim(nextRunAt, 'w/3')).toMatchObject({
        outcome: 'claimed',
        record: { id, state: 'running', attempt: 2, leaseOwner: 'w/3' },
      });
    });
  });
}
