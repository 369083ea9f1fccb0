#!/usr/bin/env node
// localstack/requirements.txt: ministack and every package it imports, each pinned with `==` and the
// sha256 of every file PyPI has for that version, so `localstack/ministack.ts install` can run
//   pip install --require-hashes --no-deps --only-binary :all: -r localstack/requirements.txt
// and install nothing the file does not pin. The resolution is universal (uv pip compile --universal
// from CPython 3.10 up, ministack's lowest): a dependency only some Pythons need carries its marker
// (hypercorn's backports on 3.10), and each package lists its wheels for every platform.
//
//   node .ci/ministack-requirements.mjs --check    exit 1 unless every requirement is pinned with == and
//                                                  hashed, and ministack's pin is MINISTACK_VERSION
//                                                  (lib/local/ministack.ts); reads no network (CI runs it)
//   node .ci/ministack-requirements.mjs --update   after changing MINISTACK_VERSION: resolve again with uv
//                                                  (installed into a throwaway virtualenv), write the file,
//                                                  then --verify
//   node .ci/ministack-requirements.mjs --verify   for each Python and platform below, have pip download the
//                                                  wheels it would pick there and check them against the file
//
// The index is PyPI, or PIP_INDEX_URL when set (for --update and --verify).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FILE = join(ROOT, 'localstack', 'requirements.txt');
const SHOWN = 'localstack/requirements.txt';
/** The uv release that resolves (a tool of this script only, never installed into the project). */
const UV_VERSION = '0.13.8';
/** The oldest Python the resolution covers (ministack's Requires-Python). */
const LOWEST_PYTHON = '3.10';
/** What --verify downloads for: every CPython ministack supports, on the platforms spool is run on. */
const VERIFY_PYTHONS = ['3.10', '3.11', '3.12', '3.13', '3.14'];
const VERIFY_PLATFORMS = [
  'manylinux2014_x86_64',
  'manylinux2014_aarch64',
  'macosx_11_0_arm64',
  'macosx_10_15_x86_64',
  'win_amd64',
];
const HEADER = `# ministack and every package it imports, each pinned with the sha256 of every file PyPI has for
# that version (wheels for all platforms; CPython ${LOWEST_PYTHON} and newer). \`localstack/ministack.ts install\`
# (and .ci/run) installs exactly this, and nothing else:
#   pip install --require-hashes --no-deps --only-binary :all: -r ${SHOWN}
# Do not edit by hand. To move ministack on: change MINISTACK_VERSION in lib/local/ministack.ts, then
#   node .ci/ministack-requirements.mjs --update    # uv pip compile --universal --generate-hashes, then --verify
#   node .ci/ministack-requirements.mjs --check     # what CI runs before the install
`;

/** The ministack version lib/local/ministack.ts pins. */
function ministackVersion() {
  const source = readFileSync(join(ROOT, 'lib', 'local', 'ministack.ts'), 'utf8');
  const match = /export const MINISTACK_VERSION = '([^']+)'/.exec(source);
  if (match === null) throw new Error('lib/local/ministack.ts: no `export const MINISTACK_VERSION = …` found');
  return match[1];
}

/**
 * The requirements of a requirements file: comments dropped, `\` continuations joined. Each is
 * `{ line, text }`, `line` being where it starts (1-based).
 */
function logicalLines(text) {
  const out = [];
  let current;
  text.split('\n').forEach((raw, index) => {
    const code = raw.replace(/(^|\s)#.*$/, '').trim();
    if (current === undefined && code === '') return;
    const continued = code.endsWith('\\');
    const piece = continued ? code.slice(0, -1).trim() : code;
    if (current === undefined) current = { line: index + 1, text: piece };
    else current.text = `${current.text} ${piece}`.trim();
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current !== undefined) out.push(current);
  return out;
}

const PINNED = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.!+_-]+)\s*(;.*?)?((?:\s+--hash=sha256:[0-9a-f]{64})*)$/;

const short = (text) => (text.length > 60 ? `${text.slice(0, 60)}…` : text);

/** Every problem of the requirements text, as messages ('' problems: good). */
function problems(text, expectedMinistack) {
  const found = [];
  let ministack;
  for (const { line, text: requirement } of logicalLines(text)) {
    const where = `${SHOWN}:${line}`;
    const match = PINNED.exec(requirement);
    if (match === null) {
      found.push(
        requirement.startsWith('-')
          ? `${where}: \`${short(requirement)}\` is an option; the file may hold only pinned requirements (pip's options are given on its command line)`
          : `${where}: \`${short(requirement)}\` is not \`name==version [; marker]\` followed by --hash=sha256:<64 hex> options`,
      );
      continue;
    }
    const [, name, version, , hashes] = match;
    if (hashes.trim() === '')
      found.push(`${where}: ${name}==${version} has no --hash=sha256:… (pip --require-hashes refuses it)`);
    if (name.toLowerCase() === 'ministack') ministack = version;
  }
  if (ministack === undefined) found.push(`${SHOWN}: no ministack==… requirement`);
  else if (ministack !== expectedMinistack)
    found.push(
      `${SHOWN}: pins ministack==${ministack}, but lib/local/ministack.ts has MINISTACK_VERSION = '${expectedMinistack}'`,
    );
  return found;
}

function check() {
  const found = problems(readFileSync(FILE, 'utf8'), ministackVersion());
  for (const problem of found) console.error(problem);
  if (found.length > 0) {
    console.error('Regenerate it with `node .ci/ministack-requirements.mjs --update` (needs PyPI) and commit it.');
    process.exit(1);
  }
  const count = logicalLines(readFileSync(FILE, 'utf8')).length;
  console.log(`${SHOWN}: ${count} requirements, each pinned with == and hashed; ministack ${ministackVersion()}`);
}

const run = (command, args, options = {}) =>
  execFileSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
const indexArgs = () => (process.env.PIP_INDEX_URL ? ['--index-url', process.env.PIP_INDEX_URL] : []);

function update() {
  const version = ministackVersion();
  const work = mkdtempSync(join(tmpdir(), 'ministack-requirements-'));
  try {
    const tool = join(work, 'uv-venv');
    run('python3', ['-m', 'venv', tool]);
    run(join(tool, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `uv==${UV_VERSION}`,
    ]);
    const input = join(work, 'requirements.in');
    writeFileSync(input, `ministack==${version}\n`);
    const compiled = run(
      join(tool, 'bin', 'uv'),
      [
        'pip',
        'compile',
        '--no-config',
        '--quiet',
        '--no-header',
        '--universal',
        '--python-version',
        LOWEST_PYTHON,
        '--only-binary',
        ':all:',
        '--generate-hashes',
        ...indexArgs(),
        'requirements.in',
      ],
      { cwd: work },
    );
    const text = `${HEADER}${compiled.replaceAll('-r requirements.in', 'MINISTACK_VERSION (lib/local/ministack.ts)')}`;
    const found = problems(text, version);
    if (found.length > 0) throw new Error(`uv's output does not pass the check:\n${found.join('\n')}`);
    writeFileSync(FILE, text);
    console.log(`${SHOWN}: written for ministack ${version} (${logicalLines(text).length} requirements)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  verify();
}

function verify() {
  const work = mkdtempSync(join(tmpdir(), 'ministack-verify-'));
  try {
    for (const python of VERIFY_PYTHONS) {
      for (const platform of VERIFY_PLATFORMS) {
        // With hashes in the file pip checks every download against them; --no-deps and the file's
        // markers as the running Python sees them: the marked backports are pure wheels, one hash each.
        run('python3', [
          '-m',
          'pip',
          'download',
          '--quiet',
          '--disable-pip-version-check',
          '--require-hashes',
          '--no-deps',
          '--only-binary',
          ':all:',
          '--python-version',
          python,
          '--platform',
          platform,
          '--dest',
          join(work, `${python}-${platform}`),
          ...indexArgs(),
          '-r',
          FILE,
        ]);
        console.log(`verified: CPython ${python} on ${platform}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
if (mode === '--check') check();
else if (mode === '--update') update();
else if (mode === '--verify') verify();
else {
  console.error('usage: node .ci/ministack-requirements.mjs --check | --update | --verify');
  process.exit(2);
}
