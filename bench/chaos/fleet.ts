/**
 * The fleet: N worker processes (`bench/chaos/worker.ts`), each in a slot. The chaos loop kills
 * one at random by its pid (SIGKILL) every 1–5 s and starts a new one in its slot; a worker that
 * exits by itself is counted as a crash and replaced. `stop()` ends them gracefully (SIGTERM, then
 * SIGKILL), `killAll()` at once. Every process is recorded: pid, when it exited and whether it was
 * killed.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { monotonicNow } from '../report.js';

/** One worker process, from its start to its exit. */
export interface ProcessRecord {
  readonly pid: number;
  readonly slot: number;
  /** Monotonic ms. */
  readonly startedAt: number;
  /** Monotonic ms; unset while it runs. */
  exitedAt?: number;
  /** Ended by the chaos loop's SIGKILL. */
  killed: boolean;
  /** Exited by itself, not by a signal of ours (a crash). */
  crashed: boolean;
}

/** What the fleet runs. */
export interface FleetOptions {
  readonly processes: number;
  /** The worker script and its arguments. */
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Kill interval bounds, ms. */
  readonly killEveryMs: readonly [number, number];
  readonly random: () => number;
  readonly log: (line: string) => void;
}

interface Slot {
  child: ChildProcess;
  record: ProcessRecord;
  exited: Promise<void>;
}

/** The worker processes of one suite run. */
export class Fleet {
  readonly records: ProcessRecord[] = [];
  readonly #options: FleetOptions;
  readonly #slots: Slot[] = [];
  #stopping = false;
  #chaos: Promise<void> | undefined;

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  /** Processes killed by the chaos loop. */
  get kills(): number {
    return this.records.filter((r) => r.killed).length;
  }

  /** Processes that exited by themselves. */
  get crashes(): number {
    return this.records.filter((r) => r.crashed).length;
  }

  /** Start every slot's process and wait until each is ready. */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let slot = 0; slot < this.#options.processes; slot++) ready.push(this.#spawn(slot));
    await Promise.all(ready);
  }

  /** Start the chaos loop: kill a random process every 1–5 s, start a new one in its slot. */
  startChaos(): void {
    this.#chaos = this.#chaosLoop();
  }

  /** End the chaos loop (the kill in progress, if any, completes). */
  async stopChaos(): Promise<void> {
    this.#stopping = true;
    await this.#chaos;
  }

  /** Stop every process: SIGTERM (workers drain), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.#stopping = true;
    await this.#chaos;
    const live = this.#slots.filter((s) => s.record.exitedAt === undefined);
    for (const s of live) s.child.kill('SIGTERM');
    const all = Promise.all(live.map((s) => s.exited));
    if ((await Promise.race([all.then(() => 'done'), sleep(graceMs, 'late')])) === 'late') this.killAll();
    await all;
  }

  /** SIGKILL every live process now (on failure or Ctrl-C). */
  killAll(): void {
    this.#stopping = true;
    for (const s of this.#slots) {
      if (s.record.exitedAt === undefined && s.child.pid !== undefined) {
        try {
          process.kill(s.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  async #chaosLoop(): Promise<void> {
    const { random, killEveryMs } = this.#options;
    const [min, max] = killEveryMs;
    while (!this.#stopping) {
      await sleep(min + random() * (max - min));
      if (this.#stopping) return;
      const slot = this.#slots[Math.floor(random() * this.#slots.length)];
      if (slot === undefined || slot.record.exitedAt !== undefined || slot.child.pid === undefined) continue;
      slot.record.killed = true;
      process.kill(slot.child.pid, 'SIGKILL');
      await slot.exited;
      if (!this.#stopping) await this.#spawn(slot.record.slot, false);
    }
  }

  /** Start a process in `slot`; resolves when it is ready (`wait`) or at once. */
  #spawn(slot: number, wait = true): Promise<void> {
    const { args, env, log } = this.#options;
    const child = spawn(process.execPath, ['--conditions=spool-source', '--import', 'tsx', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start a worker process (${args.join(' ')})`);
    const record: ProcessRecord = { pid, slot, startedAt: monotonicNow(), killed: false, crashed: false };
    this.records.push(record);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        record.exitedAt = monotonicNow();
        if (!record.killed && !this.#stopping) {
          record.crashed = true;
          log(`worker ${pid} exited by itself (code ${code}, signal ${signal}); starting another`);
          void this.#spawn(slot, false);
        }
        resolve();
      });
    });
    this.#slots[slot] = { child, record, exited };
    const ready = new Promise<void>((resolve, reject) => {
      let text = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('ready\n')) resolve();
      });
      void exited.then(() => reject(new Error(`worker ${pid} exited before it was ready`)));
    });
    if (wait) return ready;
    ready.catch(() => {}); // a worker killed or crashed while starting is recorded by its exit
    return Promise.resolve();
  }
}
