/**
 * How the CLI reports an error that ends a command: `spool: <message>` on stderr, and the exit
 * code it maps to. A spool error's exit code is chosen by its `code` ({@link EXIT_BY_ERROR_CODE},
 * and the table in `docs/errors.md`), never by its name or message, so an error from another copy
 * of spool (the user's app may load the ESM build while the CLI runs the CommonJS one) maps the same.
 *
 * @module
 */

import { CommanderError } from 'commander';
import { isSpoolError, type SpoolErrorCode } from '../task/errors.js';
import { CliError, type CliIo, EXIT, printable } from './output.js';

/** The exit code of a command that ends with a spool error, by the error's code. */
export const EXIT_BY_ERROR_CODE = {
  BACKEND_FAILURE: EXIT.backend,
  BACKEND_UNREACHABLE: EXIT.backend,
  NON_RETRIABLE: EXIT.backend,
  RETRY_AFTER: EXIT.backend,
  INVALID_CONFIGURATION: EXIT.usage,
  INVALID_ARGUMENTS: EXIT.usage,
  PAYLOAD_TOO_LARGE: EXIT.usage,
  INVALID_ENQUEUE_OPTION: EXIT.usage,
  ARGUMENTS_NOT_JSON: EXIT.usage,
  UNIQUE_LOCK_CONTENDED: EXIT.backend,
  ENQUEUE_REFUSED: EXIT.usage,
  TASK_FAILED: EXIT.failed,
  INVALID_RESULT: EXIT.backend,
  TIMEOUT: EXIT.failed,
  HARD_TIMEOUT: EXIT.backend,
  ATTEMPT_ABORTED: EXIT.backend,
} as const satisfies Readonly<Record<SpoolErrorCode, number>>;

/**
 * Codes no command expects to end with (a handler's signals, which a worker catches): reported as
 * an unexpected error, with the error's name and the hint to set SPOOL_DEBUG.
 */
export const UNEXPECTED_ERROR_CODES: ReadonlySet<SpoolErrorCode> = new Set([
  'NON_RETRIABLE',
  'RETRY_AFTER',
  'INVALID_RESULT',
  'HARD_TIMEOUT',
  'ATTEMPT_ABORTED',
]);

/** Print an error on stderr as `spool: <message>` and return the exit code it maps to. */
export function reportError(io: Pick<CliIo, 'stderr'>, error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (through `outputError`) or the help already.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
    return EXIT.usage;
  }
  const debug = process.env.SPOOL_DEBUG === '1';
  let code: number = EXIT.backend;
  let message: string;
  if (error instanceof CliError) {
    code = error.exitCode;
    message = error.message;
  } else if (isSpoolError(error) && !UNEXPECTED_ERROR_CODES.has(error.code)) {
    // A code this copy does not know (a newer copy's) is a backend error, like an unknown error.
    code = EXIT_BY_ERROR_CODE[error.code] ?? EXIT.backend;
    message = error.message;
  } else {
    const described = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    message = `unexpected error: ${described}${debug ? '' : ' (set SPOOL_DEBUG=1 to see the stack)'}`;
  }
  io.stderr.write(`spool: ${printable(message)}\n`);
  if (debug && error instanceof Error) io.stderr.write(`${printable(stackWithCauses(error))}\n`);
  return code;
}

function stackWithCauses(error: Error): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    parts.push(current.stack ?? `${current.name}: ${current.message}`);
    current = current.cause;
  }
  return parts.join('\nCaused by: ');
}
