/**
 * The keys of the DynamoDB table's items, as plain strings: the store writes them, and the CDK
 * construct's grants name their prefixes in `dynamodb:LeadingKeys` conditions. No AWS SDK here,
 * so `spool-tasks/cdk` loads without it.
 *
 * @module
 */

import { type LockKind, lockName } from '../protocol/ids.js';
import { SPOOL_LAYOUT } from './layout.js';

/** Name of the sparse index of records by state (from the layout, `lib/aws/layout.ts`). */
export const STATE_INDEX = SPOOL_LAYOUT.table.stateIndex.name;

/** The key of a task record. */
export const taskKey = (id: string) => ({ pk: `task#${id}` });
/** The key of a lock. */
export const lockKey = (kind: LockKind, key: string) => ({ pk: `lock#${lockName(kind, key)}` });

/**
 * The attributes `TaskStore.stateOf` reads (a projected GetItem): the key, the state and the
 * expiry that decides whether the item reads as absent. `grantEnqueue` allows GetItem on task
 * items with exactly these (`dynamodb:Attributes`), so a producer can check a unique lock's holder
 * without being able to read any run's arguments binding, result or error.
 */
export const STATE_PROJECTION_ATTRIBUTES = ['pk', 'state', 'expiresAt'] as const;
