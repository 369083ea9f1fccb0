/**
 * How the CLI reports the error a command ends with (lib/cli/report.ts): the exit code comes from
 * the spool error's code, never from its name or message, so an error from another copy of spool
 * (the app's ESM build while the CLI runs the CommonJS one) maps the same.
 */

import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../lib/cli/output.js';
import { EXIT_BY_ERROR_CODE, reportError } from '../../lib/cli/report.js';
import {
  ConfigurationError,
  EnqueueError,
  NonRetriableError,
  SPOOL_ERROR_CODES,
  SpoolError,
  TaskFailedError,
  TimeoutError,
  ValidationError,
} from '../../lib/task/errors.js';
import { collector } from './helpers.js';

/** Report `error` as the CLI does: its exit code and what it printed. */
function report(error: unknown): { code: number; stderr: string } {
  const stderr = collector();
  const code = reportError({ stderr }, error);
  return { code, stderr: stderr.text() };
}

/** An error as another copy of spool makes it: a plain Error with the shared brand and a code. */
function fromAnotherBundle(code: string, name: string, message: string): Error {
  const error = Object.assign(new Error(message), { name, code });
  Object.defineProperty(error, Symbol.for('spool-tasks.error'), { value: true });
  return error;
}

describe('GIVEN a command that ends with an error', () => {
  it.each([
    [new ValidationError('Invalid arguments for task greet', { issues: [] }), EXIT.usage],
    [new ConfigurationError('SPOOL_TABLE is not set'), EXIT.usage],
    [new EnqueueError('the message is 2000000 bytes', { code: 'PAYLOAD_TOO_LARGE' }), EXIT.usage],
    [new EnqueueError('orderingKey "a b" is not allowed', { code: 'INVALID_ENQUEUE_OPTION' }), EXIT.usage],
    [new EnqueueError('lock changed hands three times. Try again.', { code: 'UNIQUE_LOCK_CONTENDED' }), EXIT.backend],
    [new TaskFailedError('Run r ended dead', { state: 'dead' }), EXIT.failed],
    [new TimeoutError('did not finish within 200 ms'), EXIT.failed],
    [new SpoolError('cannot reach sqs at http://localhost:4566', { code: 'BACKEND_UNREACHABLE' }), EXIT.backend],
  ])('WHEN it is %s THEN it prints the message as is and exits with the code of its code', (error, exit) => {
    expect(report(error)).toEqual({ code: exit, stderr: `spool: ${error.message}\n` });
  });

  it.each(SPOOL_ERROR_CODES)(
    'WHEN an error from another copy of spool carries %s THEN the exit code is that of the code, whatever its name',
    (code) => {
      const error = fromAnotherBundle(code, 'RenamedByAMinifier', `something ${code}`);
      expect(report(error).code).toBe(EXIT_BY_ERROR_CODE[code]);
    },
  );

  it("WHEN an error merely has a spool error's name THEN it is unexpected: the name decides nothing", () => {
    const lookalike = Object.assign(new Error('schema said no'), { name: 'ValidationError' });
    expect(report(lookalike)).toEqual({
      code: EXIT.backend,
      stderr: 'spool: unexpected error: ValidationError: schema said no (set SPOOL_DEBUG=1 to see the stack)\n',
    });
  });

  it("WHEN it is a handler's signal (NonRetriableError) THEN it is reported as unexpected, with its name", () => {
    expect(report(new NonRetriableError('card declined'))).toEqual({
      code: EXIT.backend,
      stderr: 'spool: unexpected error: NonRetriableError: card declined (set SPOOL_DEBUG=1 to see the stack)\n',
    });
  });

  it('WHEN its code is one this copy does not know (a newer copy) THEN it prints the message and exits 3', () => {
    expect(report(fromAnotherBundle('SOMETHING_NEW', 'SpoolError', 'a new failure'))).toEqual({
      code: EXIT.backend,
      stderr: 'spool: a new failure\n',
    });
  });

  it("WHEN it is a CliError or commander's THEN its own exit code is kept", () => {
    expect(report(new CliError('pass either --all or task ids, not both.', EXIT.usage)).code).toBe(EXIT.usage);
    expect(report(new CommanderError(1, 'commander.helpDisplayed', '(outputHelp)')).code).toBe(EXIT.ok);
    expect(report(new CommanderError(1, 'commander.unknownOption', "unknown option '--x'")).code).toBe(EXIT.usage);
  });
});
