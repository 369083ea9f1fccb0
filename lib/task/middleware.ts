/**
 * Middleware: hooks around enqueue and around each attempt.
 *
 * @module
 */

import type { Logger } from '../log/logger.js';

/** What an enqueue hook sees. */
export interface EnqueueEvent {
  readonly taskId: string;
  readonly task: string;
  /** The arguments as they will travel (after the JSON round trip). */
  readonly args: unknown;
}

/** What the run hooks see. */
export interface RunEvent {
  readonly taskId: string;
  readonly task: string;
  readonly attempt: number;
  /** The validated arguments (the schema's output). */
  readonly args: unknown;
  readonly logger: Logger;
}

/**
 * Hooks, each optional. Called in registration order.
 * - `onEnqueue` throwing refuses the enqueue (nothing is sent).
 * - `beforeRun` throwing fails the attempt like a handler error.
 * - `afterRun` / `onFailure` errors are logged and do not change the outcome.
 */
export interface Middleware {
  /** A name for logs. */
  readonly name?: string;
  onEnqueue?(event: EnqueueEvent): void | Promise<void>;
  beforeRun?(event: RunEvent): void | Promise<void>;
  afterRun?(event: RunEvent & { readonly result: unknown; readonly durationMs: number }): void | Promise<void>;
  onFailure?(
    event: RunEvent & { readonly error: unknown; readonly willRetry: boolean; readonly durationMs: number },
  ): void | Promise<void>;
}
