/**
 * Cross-process wake-ups of the embedded queue's long polls. A receive that finds its queue empty
 * sleeps and polls the file on a timer (`queue.ts`); a send of the same process wakes it at once
 * through the file's in-process channel (`EmbeddedDatabase.events`). This module carries the same
 * wake-up to the other processes sharing the file, over UDP on the loopback interface:
 *
 * - **Listening.** A process with a receive of queue Q about to sleep binds one UDP socket per file
 *   on `127.0.0.1` (port chosen by the OS) and registers a row of table `wake_listeners`:
 *   `(queue, port) → token, pid, expires_at`. The row lives {@link LISTENER_TTL_MS} and is renewed
 *   by the next receive that sleeps once less than {@link RENEW_WITHIN_MS} is left, so a busy
 *   worker (whose receives never sleep) stops being notified a minute later. `close()` deletes the
 *   process's rows; the rows of a process that crashed expire, and the next registration deletes them.
 *   `pid` is for diagnostics only: no process judges another's liveness by it (the containers of one
 *   pod share the loopback interface and the file, but not their pid namespace).
 * - **Notifying.** After a group commit that made messages of Q receivable (a send, a change of
 *   visibility to 0, a move to a dead-letter queue), the committing process reads the live rows (one
 *   SELECT, after such commits only) and sends one datagram to each other process listening to Q:
 *   once per flush of the group commit however many messages it wrote (a bulk enqueue of 100k
 *   messages sends one), and nothing at all when no other process listens.
 * - **Waking.** A datagram that carries the socket's token (random, per socket) emits
 *   `message:<queue>` on the file's in-process channel, exactly as a local send does.
 *
 * No lost wake-up: a listener commits its row *before* its last poll of the file, and a notifier
 * reads the rows *after* its COMMIT; so either the notifier sees the row or the poll sees the message.
 * A lost datagram, a socket that cannot bind, a send or a registration that fails: each only costs
 * latency, since the receive keeps polling on its timer. Failures are logged at `debug`, and the
 * socket is tried again {@link RETRY_AFTER_MS} later. Nothing listens or sends off `127.0.0.1`, the
 * socket never keeps the process alive (`unref`), and nothing happens until a queue needs it.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import type { SqliteConnection } from './database.js';

/** The only address a wake socket binds to and sends to. */
export const WAKE_ADDRESS = '127.0.0.1';
/** How long a registration lasts without renewal, ms. */
export const LISTENER_TTL_MS = 60_000;
/**
 * A sleeping receive renews its queue's registration when less than this is left, ms. Longer than
 * the longest long poll (`MAX_WAIT_SECONDS`, 20 s), so a registration found fresh before a sleep
 * outlives the sleep (a test checks this).
 */
export const RENEW_WITHIN_MS = 30_000;
/** After a failure (bind, socket error, registration), how long the process only polls, ms. */
export const RETRY_AFTER_MS = 30_000;
/** Busy timeout of the deletion of a closing process's rows, ms (they expire anyway). */
const UNREGISTER_BUSY_TIMEOUT_MS = 100;
/** The `kind` of every wake datagram (anything else on the socket is ignored). */
const DATAGRAM_KIND = 'spool.wake';

/**
 * Table `wake_listeners` (schema version 4): who to notify. `(queue, port)` is the key, so a
 * process that gets the port of a crashed one takes its row over.
 */
export const WAKE_SCHEMA = `
CREATE TABLE IF NOT EXISTS wake_listeners (
  queue TEXT NOT NULL,
  port INTEGER NOT NULL,
  token TEXT NOT NULL,
  pid INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, port)
) WITHOUT ROWID;
`;

/** The event a queue's receivers wait on in this process (prefixed: a queue may be called `error`). */
export function wakeEvent(queue: string): string {
  return `message:${queue}`;
}

/** A wake datagram, as JSON. */
interface WakeDatagram {
  readonly kind: typeof DATAGRAM_KIND;
  /** The token of the socket it is sent to. */
  readonly token: string;
  /** The queues with new receivable messages. */
  readonly queues: readonly string[];
}

/**
 * The wake socket of one file in this process, shared by the process's connections to the file:
 * the UDP socket (bound on first use), its token, and which queues it is registered for.
 */
export class WakeSocket {
  /** Sent in every datagram to this socket; others are ignored. */
  readonly token = randomBytes(16).toString('base64url');
  readonly #events: EventEmitter;
  readonly #logger: Logger;
  #socket: Socket | undefined;
  /** Resolves with the bound port, or `undefined` if binding failed. */
  #bound: Promise<number | undefined> | undefined;
  /** Until when (epoch ms) the process only polls, after a failure. */
  #retryAt = 0;
  /** Queue → when its registration expires (epoch ms), for the current socket. */
  readonly #registered = new Map<string, number>();
  /** Queue → its registration in progress. */
  readonly #registering = new Map<string, Promise<void>>();
  /** A row of this socket may be in the table (so close() deletes them). */
  #everRegistered = false;

  /** `events` is the file's in-process channel, on which datagrams become wake events. */
  constructor(events: EventEmitter, logger: Logger) {
    this.#events = events;
    this.#logger = logger;
  }

  /**
   * Make sure other processes' commits to `queue` wake this process (see the module's header).
   * Returns the registration in progress (it never rejects: the receive polls once more after it,
   * then sleeps), or `undefined` when there is nothing to wait for: registered and fresh, or
   * failing (polling only).
   */
  listen(queue: string, register: (port: number, expiresAt: number) => Promise<void>): Promise<void> | undefined {
    const now = Date.now();
    if (now < this.#retryAt) return undefined;
    const expiresAt = this.#registered.get(queue);
    if (expiresAt !== undefined && expiresAt - now > RENEW_WITHIN_MS) return undefined;
    let pending = this.#registering.get(queue);
    if (pending === undefined) {
      pending = this.#register(queue, register).finally(() => this.#registering.delete(queue));
      this.#registering.set(queue, pending);
    }
    return pending;
  }

  async #register(queue: string, register: (port: number, expiresAt: number) => Promise<void>): Promise<void> {
    const socket = this.#open();
    const port = await this.#bound;
    if (port === undefined || socket !== this.#socket) return;
    const expiresAt = Date.now() + LISTENER_TTL_MS;
    this.#everRegistered = true;
    try {
      await register(port, expiresAt);
      if (socket === this.#socket) this.#registered.set(queue, expiresAt);
    } catch (error) {
      this.#fail('could not register the wake-up listener', error, { queue });
    }
  }

  /** Send `queues` to the socket at `port` whose token is `token`. Never throws. */
  send(port: number, token: string, queues: readonly string[]): void {
    if (Date.now() < this.#retryAt) return;
    const datagram: WakeDatagram = { kind: DATAGRAM_KIND, token, queues };
    try {
      // Sent once bound (dgram queues it), from 127.0.0.1.
      this.#open().send(JSON.stringify(datagram), port, WAKE_ADDRESS, (error) => {
        if (error) this.#logger.debug('wake-up not sent; the receiver will poll', { port, error });
      });
    } catch (error) {
      this.#logger.debug('wake-up not sent; the receiver will poll', { port, error });
    }
  }

  /**
   * Close the socket and delete this socket's rows through `sqlite` (best effort, with a short busy
   * timeout: they expire anyway). Call when the file's last connection in this process closes.
   */
  close(sqlite: SqliteConnection | undefined): void {
    if (this.#everRegistered && sqlite?.open) {
      try {
        sqlite.pragma(`busy_timeout = ${UNREGISTER_BUSY_TIMEOUT_MS}`);
        sqlite.prepare('DELETE FROM wake_listeners WHERE token = ?').run(this.token);
      } catch (error) {
        this.#logger.debug('wake-up listener not unregistered; its rows expire on their own', { error });
      }
    }
    this.#everRegistered = false;
    this.#retryAt = Number.POSITIVE_INFINITY;
    this.#closeSocket();
  }

  /** The socket, created and bound to 127.0.0.1 on first use. */
  #open(): Socket {
    if (this.#socket !== undefined) return this.#socket;
    const socket = createSocket({ type: 'udp4' });
    socket.unref();
    this.#socket = socket;
    this.#bound = new Promise<number | undefined>((resolve) => {
      socket.once('listening', () => resolve(socket.address().port));
      socket.on('error', (error) => {
        resolve(undefined);
        if (socket === this.#socket) this.#fail('wake-up socket failed', error, {});
      });
    });
    socket.on('message', (data) => this.#receive(data));
    // Port 0: the OS picks a free one, so "port in use" cannot happen.
    socket.bind(0, WAKE_ADDRESS);
    return socket;
  }

  #receive(data: Buffer): void {
    let datagram: unknown;
    try {
      datagram = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (!isWakeDatagram(datagram) || datagram.token !== this.token) return;
    for (const queue of datagram.queues) this.#events.emit(wakeEvent(queue));
  }

  /** Poll only for {@link RETRY_AFTER_MS}, then start over with a new socket. */
  #fail(message: string, error: unknown, fields: Readonly<Record<string, unknown>>): void {
    this.#logger.debug(`${message}; polling only for ${RETRY_AFTER_MS} ms`, { ...fields, error });
    this.#retryAt = Date.now() + RETRY_AFTER_MS;
    this.#closeSocket();
  }

  #closeSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#bound = undefined;
    this.#registered.clear();
    if (socket === undefined) return;
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  }
}

function isWakeDatagram(value: unknown): value is WakeDatagram {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, token, queues } = value as Record<string, unknown>;
  return (
    kind === DATAGRAM_KIND &&
    typeof token === 'string' &&
    Array.isArray(queues) &&
    queues.every((queue) => typeof queue === 'string')
  );
}

/** A row of `wake_listeners` as the notifier reads it (positional). */
type ListenerRow = [queue: string, port: number, token: string];

/**
 * Cross-process wake-ups for one connection: registers through the connection's group commit and
 * notifies after its commits (see the module's header). The socket is the file's, shared.
 */
export class CrossProcessWake {
  readonly #socket: WakeSocket;
  readonly #write: (fn: () => void) => Promise<void>;
  readonly #register: Database.Statement<[string, number, string, number, number]>;
  readonly #sweep: Database.Statement<[number, string, number]>;
  readonly #listeners: Database.Statement<[number], ListenerRow>;
  readonly #logger: Logger;

  /** Bind to `sqlite` (prepares its statements; the schema must have `wake_listeners`). */
  constructor(sqlite: SqliteConnection, socket: WakeSocket, write: (fn: () => void) => Promise<void>, logger: Logger) {
    this.#socket = socket;
    this.#write = write;
    this.#logger = logger;
    this.#register = sqlite.prepare(
      `INSERT INTO wake_listeners (queue, port, token, pid, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (queue, port) DO UPDATE SET token = excluded.token, pid = excluded.pid, expires_at = excluded.expires_at`,
    );
    // Expired rows (crashed processes), and this socket's rows under an older port.
    this.#sweep = sqlite.prepare('DELETE FROM wake_listeners WHERE expires_at <= ? OR (token = ? AND port <> ?)');
    this.#listeners = sqlite
      .prepare<[number], ListenerRow>('SELECT queue, port, token FROM wake_listeners WHERE expires_at > ?')
      .raw();
  }

  /** See {@link WakeSocket.listen}. */
  listen(queue: string): Promise<void> | undefined {
    return this.#socket.listen(queue, (port, expiresAt) =>
      this.#write(() => {
        const token = this.#socket.token;
        this.#sweep.run(Date.now(), token, port);
        this.#register.run(queue, port, token, process.pid, expiresAt);
      }),
    );
  }

  /** After a commit made messages of `queues` receivable: notify the other processes listening to them. Never throws. */
  notify(queues: ReadonlySet<string>): void {
    let rows: ListenerRow[];
    try {
      rows = this.#listeners.all(Date.now());
    } catch (error) {
      this.#logger.debug('wake-up listeners not read; receivers will poll', { error });
      return;
    }
    if (rows.length === 0) return;
    const own = this.#socket.token;
    // One datagram per listening socket, naming each of its queues that has news.
    const targets = new Map<number, { readonly token: string; readonly queues: string[] }>();
    for (const [queue, port, token] of rows) {
      if (token === own || !queues.has(queue)) continue;
      const target = targets.get(port);
      if (target === undefined) targets.set(port, { token, queues: [queue] });
      else if (target.token === token) target.queues.push(queue);
    }
    for (const [port, { token, queues: named }] of targets) this.#socket.send(port, token, named);
  }
}
