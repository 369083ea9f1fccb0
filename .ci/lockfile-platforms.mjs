#!/usr/bin/env node
// Adds to package-lock.json the platform-specific optional packages (e.g. @biomejs/cli-darwin-arm64)
// that the package registry of the build machines does not serve as tarballs. npm leaves them out of
// the lockfile it writes there, and then `npm ci` refuses that lockfile ("Missing: … from lock file") —
// here and on every other platform. Each added entry has its version (from the parent's
// optionalDependencies), its os/cpu/libc (read from the package name), and the integrity hash the
// registry's metadata gives for that version (the registry serves metadata even where it does not
// serve the tarball), so npm verifies the tarball on the platform that installs it. (Like the rest
// of this lockfile, no `resolved` address: npm takes the tarball from the configured registry.)
//
//   node .ci/lockfile-platforms.mjs           run after every `npm install` on a build machine
//   node .ci/lockfile-platforms.mjs --check   exit 1 if an installable entry has no integrity hash
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;

/** Entries npm downloads (not the root, links, or packages bundled inside another's tarball). */
const installable = ([where, entry]) => where !== '' && !entry.link && !entry.inBundle;
const missingIntegrity = () => Object.entries(packages).filter((e) => installable(e) && !e[1].integrity);

if (process.argv.includes('--check')) {
  const missing = missingIntegrity();
  for (const [where, entry] of missing)
    console.error(`package-lock.json: ${where}@${entry.version} has no integrity hash`);
  if (missing.length > 0) {
    console.error('Run `node .ci/lockfile-platforms.mjs` to fill them in from the registry, and commit the lockfile.');
    process.exit(1);
  }
  console.log('package-lock.json: every installable entry has an integrity hash');
  process.exit(0);
}

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];
let added = 0;
for (const [where, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] !== undefined || packages[`${where}/${key}`] !== undefined) continue;
    const parts = name.split('/').pop().split('-');
    const os = OS.find((o) => parts.includes(o));
    const cpu = CPU.find((c) => parts.includes(c));
    if (os === undefined || cpu === undefined) {
      console.error(`${name}: not a platform package (no os/cpu in its name); left out`);
      continue;
    }
    packages[key] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
      ...(parts.includes('musl') ? { libc: ['musl'] } : parts.includes('gnu') ? { libc: ['glibc'] } : {}),
    };
    added++;
  }
}

// Integrity hashes from the registry's metadata, for every entry that lacks one.
let hashed = 0;
for (const [where, entry] of missingIntegrity()) {
  const name = where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const dist = JSON.parse(
    execFileSync('npm', ['view', '--json', `${name}@${entry.version}`, 'dist'], { encoding: 'utf8' }) || 'null',
  );
  if (typeof dist?.integrity !== 'string') {
    console.error(`${name}@${entry.version}: the registry gave no integrity hash; the entry is left without one`);
    continue;
  }
  const { version, ...rest } = entry;
  packages[where] = { version, integrity: dist.integrity, ...rest };
  hashed++;
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  `package-lock.json: added ${added} platform package entr${added === 1 ? 'y' : 'ies'}; ` +
    `filled in the integrity of ${hashed}`,
);
