/**
 * The group runner: how a batch of received messages is run, the same in the long-running worker
 * and the Lambda handler.
 *
 * - A batch splits into its message groups ({@link groupInOrder}). Groups run concurrently; the
 *   messages of one group run one after another, in delivery order (FIFO).
 * - After a message that is not acknowledged (a retry, a wait on a lease, or a backend failure),
 *   the rest of its group is handed back visible at once, unprocessed, so order is kept and the
 *   rest follows as soon as that message is done instead of after a whole visibility timeout
 *   (Powertools' `SqsFifoPartialProcessor` rule).
 * - A retry's disposition sets the message's visibility to its delay; an acknowledgement is the
 *   runtime's own (the worker deletes in batches; the Lambda leaves the message out of its batch
 *   item failures and the event source mapping deletes it).
 *
 * @module
 */

import type { Queue, ReceivedMessage } from '../backend/transport.js';
import type { Logger } from '../log/logger.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { type Disposition, type MessageControl, type ProcessorDeps, processMessage } from './processor.js';
import type { Runtime } from './runtime.js';

/** What a runtime gives the group runner. */
export interface GroupRunnerOptions {
  readonly runtime: Runtime;
  /** Identifies this worker (or Lambda invocation) in lease owners. */
  readonly workerId: string;
  /** Where processing logs (already carrying the worker's or invocation's fields). */
  readonly logger: Logger;
  /** Aborts attempts in flight: the worker's shutdown after its grace, the Lambda's deadline. */
  readonly interrupt: AbortSignal;
  /** Latest moment an attempt may run to, epoch ms (the Lambda's deadline). */
  readonly deadline?: number;
  /** Acknowledge a message whose processing is done with it. */
  readonly acknowledge: (message: ReceivedMessage) => void;
  /** Told each disposition (the worker counts them). */
  readonly onDisposition?: (disposition: Disposition) => void;
  /** Renews leases off the main thread (the worker's lease keeper). */
  readonly keeper?: LeaseKeeper;
}

/** Per-call hooks of {@link GroupRunner.runGroup}. */
export interface GroupHooks {
  /** Checked before each message: when true, the rest of the group is handed back unprocessed. */
  readonly stopping?: () => boolean;
  /** Told how many of the group's messages are settled (processed, or handed back). */
  readonly settled?: (count: number) => void;
}

/** Runs received messages group by group (see the module's header). */
export class GroupRunner {
  readonly #deps: ProcessorDeps;
  readonly #options: GroupRunnerOptions;

  constructor(options: GroupRunnerOptions) {
    const { runtime } = options;
    this.#options = options;
    this.#deps = {
      tasks: runtime.tasks,
      schedules: runtime.schedules,
      store: runtime.backend.store,
      deadLetters: runtime.backend.transport.deadLetters,
      queue: runtime.backend.transport.tasks,
      middleware: runtime.middleware,
      logger: options.logger,
      now: runtime.now,
      workerId: options.workerId,
      ...(options.keeper === undefined ? {} : { keeper: options.keeper }),
    };
  }

  /** Run every group of a batch concurrently; resolves the messages not acknowledged. */
  async runBatch(messages: readonly ReceivedMessage[]): Promise<ReceivedMessage[]> {
    const failed = await Promise.all(groupInOrder(messages).map((group) => this.runGroup(group)));
    return failed.flat();
  }

  /**
   * Run one group in order. Resolves the messages not acknowledged: the one that was not, and the
   * rest of the group after it (handed back visible). Never rejects.
   */
  async runGroup(group: readonly ReceivedMessage[], hooks: GroupHooks = {}): Promise<ReceivedMessage[]> {
    for (let index = 0; index < group.length; index++) {
      const message = group[index] as ReceivedMessage;
      if (hooks.stopping?.() === true) {
        await this.#handBack(group.slice(index), hooks);
        return group.slice(index);
      }
      const acknowledged = await this.#process(message);
      hooks.settled?.(1);
      if (!acknowledged) {
        await this.#handBack(group.slice(index + 1), hooks);
        return group.slice(index);
      }
    }
    return [];
  }

  /** Process one message and apply its disposition; resolves whether it was acknowledged. */
  async #process(message: ReceivedMessage): Promise<boolean> {
    const { queue } = this.#deps;
    const keeper = this.#options.keeper;
    try {
      let disposition: Disposition;
      try {
        disposition = await processMessage(
          this.#deps,
          message,
          new Control(queue, message.receiptHandle, this.#options),
        );
      } finally {
        // The lease keeper renews the attempt's lease until its finish is written, and stops (its
        // last heartbeat settled) before the disposition changes the message (see lease-keeper.ts).
        if (keeper !== undefined) await keeper.releaseMessage(message.receiptHandle);
      }
      this.#options.onDisposition?.(disposition);
      if (disposition.kind === 'ack') {
        this.#options.acknowledge(message);
        return true;
      }
      await queue.changeVisibility(message.receiptHandle, disposition.delaySeconds);
      return false;
    } catch (error) {
      // The backend failed (store or queue unreachable): leave the message; it comes back after
      // its visibility timeout and the lease decides what happens then.
      this.#options.logger.error('processing failed in the backend; the message will be delivered again', {
        messageId: message.messageId,
        error,
      });
      return false;
    }
  }

  /** Make messages visible again at once (never rejects: a stale receipt only delays them). */
  async #handBack(messages: readonly ReceivedMessage[], hooks: GroupHooks): Promise<void> {
    if (messages.length === 0) return;
    hooks.settled?.(messages.length);
    const { queue } = this.#deps;
    await Promise.allSettled(messages.map((m) => queue.changeVisibility(m.receiptHandle, 0)));
  }
}

/** One message's {@link MessageControl}: one object per message, its method on the prototype. */
class Control implements MessageControl {
  readonly stop: AbortSignal;
  readonly deadline?: number;

  constructor(
    readonly queue: Queue,
    readonly receiptHandle: string,
    options: GroupRunnerOptions,
  ) {
    this.stop = options.interrupt;
    if (options.deadline !== undefined) this.deadline = options.deadline;
  }

  async extendVisibility(seconds: number): Promise<void> {
    await this.queue.changeVisibility(this.receiptHandle, seconds);
  }
}

/** Split a batch into its message groups, each in delivery order. */
export function groupInOrder(messages: readonly ReceivedMessage[]): ReceivedMessage[][] {
  const groups = new Map<string, ReceivedMessage[]>();
  for (const m of messages) {
    const group = groups.get(m.groupId);
    if (group === undefined) groups.set(m.groupId, [m]);
    else group.push(m);
  }
  return [...groups.values()];
}
