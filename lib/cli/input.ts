/**
 * Where `spool enqueue` reads a run's arguments from: the JSON argument, a file (`--args-file
 * <path>`) or stdin (`-`). The last two exist because shells mangle quoted JSON: cmd.exe keeps
 * single quotes, and PowerShell strips the double quotes inside them.
 *
 * @module
 */

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseJsonArgument } from './json.js';
import { CliError, type CliIo, EXIT, type InStream, line, truncate } from './output.js';

/** The JSON argument that means "read stdin". */
export const STDIN_ARGUMENT = '-';

/** Where the arguments were given: the command's JSON argument and its `--args-file`, either or neither. */
export interface ArgumentsInput {
  /** The JSON argument, or {@link STDIN_ARGUMENT}. */
  readonly json?: string;
  /** `--args-file <path>`, relative to the working directory; `-` reads stdin too. */
  readonly file?: string;
}

/**
 * Read and parse the arguments of `task` from wherever `input` says; `{}` when neither is given.
 *
 * @throws CliError (usage) when both are given, the file cannot be read, stdin or the file is
 * empty, or the text is not JSON (with its position).
 */
export async function readArguments(
  io: Pick<CliIo, 'stdin' | 'stderr' | 'cwd'>,
  task: string,
  input: ArgumentsInput,
): Promise<unknown> {
  const what = `arguments of '${task}'`;
  if (input.json !== undefined && input.file !== undefined) {
    throw new CliError(
      `the ${what} were given twice: as the argument ${JSON.stringify(truncate(input.json, 40))} and with ` +
        `--args-file ${input.file}. Pass one of them: the JSON argument, ${STDIN_ARGUMENT} to read stdin, or ` +
        '--args-file <path>.',
      EXIT.usage,
    );
  }
  if (input.json === STDIN_ARGUMENT || input.file === STDIN_ARGUMENT) {
    const text = await readStdin(io, what);
    if (text.trim() === '') {
      throw new CliError(
        `no arguments on stdin: ${STDIN_ARGUMENT} reads the ${what} as JSON from stdin, and stdin was empty. ` +
          `Send them there (spool enqueue ${task} ${STDIN_ARGUMENT} --app … < args.json), or pass --args-file <path>.`,
        EXIT.usage,
      );
    }
    return parseJsonArgument(text, `${what} (from stdin)`, 'Send one JSON value on stdin, e.g. {"key":"value"}.');
  }
  if (input.file !== undefined) {
    const path = resolve(io.cwd, input.file);
    const text = decodeText(await readArgumentsFile(path, input.file, io.cwd));
    if (text.trim() === '') {
      throw new CliError(
        `--args-file ${path} is empty: write the ${what} into it as one JSON value, e.g. {"key":"value"} ` +
          '({} for none).',
        EXIT.usage,
      );
    }
    return parseJsonArgument(
      text,
      `${what} (from ${path})`,
      `Fix the JSON in ${path}: it must hold one JSON value, e.g. {"key":"value"}.`,
    );
  }
  return parseJsonArgument(
    input.json ?? '{}',
    what,
    `Quote the whole JSON for your shell, e.g. spool enqueue ${task} '{"key":"value"}'. Where quoting fights ` +
      `you (cmd.exe, PowerShell), put the JSON in a file and pass --args-file <path>, or pipe it in with ${STDIN_ARGUMENT}.`,
  );
}

async function readArgumentsFile(path: string, given: string, cwd: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    const reason =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : error instanceof Error
              ? error.message
              : String(error);
    throw new CliError(
      `--args-file ${given}: cannot read ${path}: ${reason}. Pass the path of a file that holds the arguments as ` +
        `JSON (relative to ${cwd}), or ${STDIN_ARGUMENT} to read them from stdin.`,
      EXIT.usage,
      { cause: error },
    );
  }
}

async function readStdin(io: Pick<CliIo, 'stdin' | 'stderr'>, what: string): Promise<string> {
  if (io.stdin.isTTY === true) {
    line(io.stderr, `spool: reading the ${what} as JSON from stdin; end with Ctrl-D (Windows: Ctrl-Z, then Enter).`);
  }
  return decodeText(await readAll(io.stdin));
}

async function readAll(stream: InStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  return Buffer.concat(chunks);
}

/**
 * Bytes as text: UTF-8, or UTF-16 when a byte order mark says so (Windows PowerShell 5.1 writes
 * files as UTF-16LE with a BOM); a UTF-8 BOM is dropped, so positions count from the JSON itself.
 */
export function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString('utf8');
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const even = bytes.subarray(2, 2 + ((bytes.length - 2) & ~1));
    return Buffer.from(even).swap16().toString('utf16le');
  }
  return bytes.toString('utf8');
}
