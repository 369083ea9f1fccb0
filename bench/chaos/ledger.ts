/**
 * The ledger: what every attempt did, as short lines appended to one file per worker process
 * (`ledger-<pid>.log`, opened with O_APPEND and written with one `write(2)` per line). A line is in
 * the kernel once the call returns, so a SIGKILL a moment later loses nothing written before it.
 *
 * Lines: `<kind> <taskId> <attempt> <pid> <time>`, the time on the machine's monotonic clock (ms,
 * shared by every process), kinds:
 * - `S` the handler started; `E` its effect (once per attempt, just before it returns);
 * - `X` the handler ended, with the outcome last: `ok` (returned), `fail` (a planned failure),
 *   `abort` (anything else thrown: its signal aborted, for a lost lease or a shutdown);
 * - `F` the worker recorded the attempt's success in the store (after the finish write).
 *
 * @module
 */

import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The kinds of ledger lines. */
export type LedgerKind = 'S' | 'E' | 'X' | 'F';

/** One ledger line, read back. */
export interface LedgerEntry {
  readonly kind: LedgerKind;
  readonly taskId: string;
  readonly attempt: number;
  readonly pid: number;
  /** Monotonic ms. */
  readonly at: number;
  /** `X`: `ok`, `fail` or `abort`. */
  readonly outcome?: string;
}

/** Appends this process's lines to `<dir>/ledger-<pid>.log`. */
export class LedgerWriter {
  readonly #fd: number;

  constructor(dir: string) {
    this.#fd = openSync(join(dir, `ledger-${process.pid}.log`), 'a');
  }

  write(kind: LedgerKind, taskId: string, attempt: number, at: number, outcome?: string): void {
    const tail = outcome === undefined ? '' : ` ${outcome}`;
    writeSync(this.#fd, `${kind} ${taskId} ${attempt} ${process.pid} ${at.toFixed(3)}${tail}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Every entry of every ledger file in `dir`. A torn or foreign line is skipped. */
export function readLedger(dir: string): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^ledger-\d+\.log$/.test(name)) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      const [kind, taskId, attempt, pid, at, outcome] = line.split(' ');
      if (kind !== 'S' && kind !== 'E' && kind !== 'X' && kind !== 'F') continue;
      if (taskId === undefined || attempt === undefined || pid === undefined || at === undefined) continue;
      const entry: LedgerEntry = { kind, taskId, attempt: Number(attempt), pid: Number(pid), at: Number(at) };
      if (!Number.isFinite(entry.at) || !Number.isInteger(entry.attempt)) continue;
      entries.push(outcome === undefined ? entry : { ...entry, outcome });
    }
  }
  return entries;
}
