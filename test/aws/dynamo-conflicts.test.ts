/**
 * DynamoDB transaction conflicts (issue 12): a write cancelled or refused because another
 * transaction was changing one of its items is tried again shortly, never reported as an outcome
 * or a backend failure; conflicts that outlast the retries reject with a retriable error. The
 * store runs on a stub document client that answers each request from a script.
 */

import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { hasErrorCode, isRetriable, SpoolError } from 'spool-tasks';
import { describe, expect, it } from 'vitest';
import { DynamoStore } from '../../lib/aws/dynamo-store.js';
import { CONFLICT_TRIES, isTransactionConflict } from '../../lib/aws/dynamo-writes.js';

const NOW = 1_700_000_000_000;
const $metadata = {};

/** A stub client: each `send` is recorded and answered by `answer` (a value, or a thrown error). */
function stubClient(answer: (command: unknown, index: number) => unknown) {
  const sent: unknown[] = [];
  const client = {
    send: async (command: unknown) => {
      sent.push(command);
      const out = answer(command, sent.length - 1);
      if (out instanceof Error) throw out;
      return out;
    },
  };
  return { db: client as unknown as DynamoDBDocumentClient, sent };
}

/** TransactWriteItems cancelled with one reason per item (`None` for the items that were fine). */
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata,
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const runningItem = {
  pk: 'task#t1',
  id: 't1',
  task: 'singleton.task',
  state: 'running',
  attempt: 1,
  leaseOwner: 'w/1',
  leaseExpiresAt: NOW + 30_000,
  singletonKey: 'k',
  createdAt: NOW,
  updatedAt: NOW,
  startedAt: NOW,
  expiresAt: NOW + 86_400_000,
};

const claimInput = {
  id: 't1',
  task: 'singleton.task',
  owner: 'w/1',
  now: NOW,
  leaseMs: 30_000,
  maxAttempts: 3,
  expiresAt: NOW + 86_400_000,
  singletonKey: 'k',
};

const finishInput = {
  id: 't1',
  owner: 'w/1',
  now: NOW,
  state: 'succeeded',
  result: '1',
  expiresAt: NOW + 86_400_000,
  singletonKey: 'k',
} as const;

const transactions = (sent: readonly unknown[]) => sent.filter((c) => c instanceof TransactWriteCommand).length;

describe('DynamoStore: transaction conflicts', () => {
  it('GIVEN a singleton claim cancelled by a TransactionConflict WHEN it is tried again THEN the claim succeeds, within a few hundred ms', async () => {
    const { db, sent } = stubClient((command, i) => {
      if (command instanceof TransactWriteCommand) return i === 0 ? cancelled('None', 'TransactionConflict') : {};
      if (command instanceof GetCommand) return { Item: runningItem };
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    const started = Date.now();
    const claim = await store.claim(claimInput);
    expect(claim).toMatchObject({ outcome: 'claimed', record: { id: 't1', state: 'running', leaseOwner: 'w/1' } });
    expect(transactions(sent)).toBe(2);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("GIVEN finish's lock delete conflicting with another transaction WHEN it is tried again THEN the run is finished and the lock released", async () => {
    const { db, sent } = stubClient((command, i) => {
      if (command instanceof TransactWriteCommand) return i === 0 ? cancelled('None', 'TransactionConflict') : {};
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    await expect(store.finish(finishInput)).resolves.toEqual({ outcome: 'finished' });
    expect(transactions(sent)).toBe(2);
    // Both tries carry the record's update and the lock's delete: one write, all or nothing.
    for (const command of sent as TransactWriteCommand[]) {
      expect(command.input.TransactItems?.map((item) => Object.keys(item)[0])).toEqual(['Update', 'Delete']);
    }
  });

  it('GIVEN a plain write refused with TransactionConflictException WHEN it is tried again THEN it succeeds (a unique lock released after a dead letter)', async () => {
    const { db, sent } = stubClient((command, i) => {
      if (command instanceof DeleteCommand) {
        return i === 0
          ? new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata })
          : {};
      }
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    await expect(store.releaseUnique('u', 't1')).resolves.toBeUndefined();
    expect(sent.filter((c) => c instanceof DeleteCommand)).toHaveLength(2);
  });

  it('GIVEN conflicts on every try WHEN a claim runs out of retries THEN it rejects with a retriable BACKEND_FAILURE that says so', async () => {
    const { db, sent } = stubClient((command) => {
      if (command instanceof TransactWriteCommand) return cancelled('TransactionConflict', 'None');
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    const error = await store.claim(claimInput).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolError);
    expect(hasErrorCode(error, 'BACKEND_FAILURE')).toBe(true);
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`another transaction was changing the same item at each of ${CONFLICT_TRIES} tries`),
    );
    expect((error as Error).message).toMatch(/nothing was written/);
    expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(TransactionCanceledException);
    expect(transactions(sent)).toBe(CONFLICT_TRIES);
  });

  it('GIVEN conflicts on every try WHEN finish runs out of retries THEN it rejects with the retriable error too', async () => {
    const { db, sent } = stubClient(() => cancelled('None', 'TransactionConflict'));
    const store = new DynamoStore(db, 'table', () => NOW);
    const error = await store.finish(finishInput).catch((e: unknown) => e);
    expect(hasErrorCode(error, 'BACKEND_FAILURE')).toBe(true);
    expect(isRetriable(error)).toBe(true);
    expect(transactions(sent)).toBe(CONFLICT_TRIES);
  });

  it('GIVEN a singleton lock held by another run WHEN the claim is cancelled on its condition THEN singleton-busy, with no retry', async () => {
    const { db, sent } = stubClient((command) => {
      if (command instanceof TransactWriteCommand) {
        return new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata,
          CancellationReasons: [
            { Code: 'None' },
            {
              Code: 'ConditionalCheckFailed',
              Item: { pk: { S: 'lock#singleton#k' }, holder: { S: 'other' }, expiresAt: { N: String(NOW + 9000) } },
            },
          ],
        });
      }
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    await expect(store.claim(claimInput)).resolves.toEqual({
      outcome: 'singleton-busy',
      holderId: 'other',
      heldUntil: NOW + 9000,
    });
    expect(transactions(sent)).toBe(1);
  });

  it('GIVEN errors of each kind THEN only conflicts (by name and reason codes, not message) count as conflicts', () => {
    expect(isTransactionConflict(cancelled('None', 'TransactionConflict'))).toBe(true);
    expect(isTransactionConflict(cancelled('TransactionConflict', 'TransactionConflict'))).toBe(true);
    expect(isTransactionConflict(cancelled('TransactionConflict', 'ConditionalCheckFailed'))).toBe(false);
    expect(isTransactionConflict(cancelled('None', 'ValidationError'))).toBe(false);
    expect(isTransactionConflict(cancelled('None', 'None'))).toBe(false);
    expect(isTransactionConflict(new TransactionConflictException({ message: 'x', $metadata }))).toBe(true);
    const inProgress = Object.assign(new Error('x'), { name: 'TransactionInProgressException' });
    expect(isTransactionConflict(inProgress)).toBe(true);
    // The message says conflict, the name does not: not a conflict.
    expect(isTransactionConflict(new Error('TransactionConflict'))).toBe(false);
    expect(
      isTransactionConflict(new ConditionalCheckFailedException({ message: 'TransactionConflict', $metadata })),
    ).toBe(false);
  });

  it('GIVEN a plain claim refused with TransactionConflictException WHEN tried again THEN claimed', async () => {
    const { db } = stubClient((command, i) => {
      if (command instanceof UpdateCommand) {
        return i === 0
          ? new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata })
          : { Attributes: { ...runningItem, singletonKey: undefined } };
      }
      throw new Error('unexpected command');
    });
    const store = new DynamoStore(db, 'table', () => NOW);
    const { singletonKey: _, ...plain } = claimInput;
    await expect(store.claim(plain)).resolves.toMatchObject({ outcome: 'claimed' });
  });
});
