/**
 * `npm run bench:bundle`: what a Lambda function built on spool weighs, and how long it takes to
 * load. Bundles the worker (functions/worker.ts), the producer (functions/producer.ts) and a
 * minimal hand-written SQS → DynamoDB handler (bench/fixtures/minimal-sqs-handler.ts, the same SDK
 * clients) with the esbuild options the constructs use (`LAMBDA_BUNDLING` of `spool-tasks/cdk`,
 * the target of the worker's default runtime), then reports for each:
 *
 * - raw and gzipped bytes of the bundle (without its source map);
 * - which heavy modules are inside: zod (bytes, share, and its locales), `lib/embedded/`,
 *   `lib/worker/`, the example's handlers and providers;
 * - cold init: the time to `require()` the bundle in a fresh `node` process, median of `--runs`
 *   runs, entries interleaved so that a busy machine slows each alike.
 *
 * The repository's functions import the package by name (`spool-tasks`, `spool-tasks/aws`, …); the
 * bundles resolve it to the sources (the `spool-source` condition), whose module graph is the one
 * dist/ is compiled from, so no build is needed and the figures follow the working tree.
 *
 * Usage: `npm run bench:bundle [-- --runs N] [--json]`. With `--json` the last line of stdout is
 * one JSON object: `{ target, runs, bundles: { worker, producer, minimal }, ratios }` (see
 * {@link BundleReport}); ratios are the worker's and the producer's gzipped bytes and cold init
 * over the minimal handler's.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING, TASK_QUEUE_DEFAULTS } from 'spool-tasks/cdk';
import { esbuildOptionsOf, esbuildTarget } from '../infra/esbuild-options.js';
import { benchOptions } from './options.js';
import { median, roundMs } from './report.js';

const USAGE = `Usage: npm run bench:bundle -- [--runs N] [--json]
  --runs N   fresh node processes per bundle for the cold-init median (default 9)
  --json     print the results as one JSON object on the last line of stdout`;

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The bundles measured: name → entry, relative to the repository. */
const ENTRIES = {
  worker: 'functions/worker.ts',
  producer: 'functions/producer.ts',
  minimal: 'bench/fixtures/minimal-sqs-handler.ts',
} as const;
type BundleName = keyof typeof ENTRIES;

/** What is reported for one bundle. */
export interface BundleReport {
  readonly entry: string;
  /** Size of the bundle, bytes (the source map excluded). */
  readonly bytes: number;
  /** Size of the bundle gzipped (level 9), bytes. */
  readonly gzipBytes: number;
  /** Bytes of the bundle that come from zod, and their share of it (0–1). */
  readonly zodBytes: number;
  readonly zodShare: number;
  /** Bytes from zod's locales (its error messages in 40-odd languages). */
  readonly zodLocaleBytes: number;
  /** Whether any module of these is inside. */
  readonly includes: {
    readonly embedded: boolean;
    readonly worker: boolean;
    readonly handlers: boolean;
    readonly providers: boolean;
    readonly contracts: boolean;
  };
  /** The largest packages (and spool's own folders), bytes in the bundle, largest first. */
  readonly largest: readonly { readonly module: string; readonly bytes: number }[];
  /** Median time to `require()` the bundle in a fresh node process, ms. */
  readonly coldInitMs: number;
  /** Every run's time, ms, in order. */
  readonly coldInitRunsMs: readonly number[];
}

/** The package (`zod`, `@aws-sdk/client-sqs`) or spool folder (`lib/worker`) an input belongs to. */
function moduleOf(input: string): string {
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (inPackage?.[1] !== undefined) return inPackage[1];
  return input.split('/').slice(0, 2).join('/');
}

function analyse(
  metafile: Metafile,
  outfile: string,
): Omit<BundleReport, 'entry' | 'gzipBytes' | 'coldInitMs' | 'coldInitRunsMs'> {
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith('.js'))?.[1];
  if (output === undefined) throw new Error(`esbuild wrote no .js output for ${outfile}`);
  const inputs = Object.entries(output.inputs).map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput }));
  const sum = (keep: (path: string) => boolean) => inputs.filter((i) => keep(i.path)).reduce((n, i) => n + i.bytes, 0);
  const has = (keep: (path: string) => boolean) => inputs.some((i) => keep(i.path) && i.bytes > 0);
  const byModule = new Map<string, number>();
  for (const input of inputs)
    byModule.set(moduleOf(input.path), (byModule.get(moduleOf(input.path)) ?? 0) + input.bytes);
  const zodBytes = sum((p) => moduleOf(p) === 'zod');
  return {
    bytes: output.bytes,
    zodBytes,
    zodShare: Math.round((zodBytes / output.bytes) * 1000) / 1000,
    zodLocaleBytes: sum((p) => moduleOf(p) === 'zod' && p.includes('/locales/')),
    includes: {
      embedded: has((p) => p.startsWith('lib/embedded/')),
      worker: has((p) => p.startsWith('lib/worker/')),
      handlers: has((p) => p === 'examples/orders/handlers.ts'),
      providers: has((p) => p === 'examples/orders/providers.ts'),
      contracts: has((p) => p === 'examples/orders/contracts.ts'),
    },
    largest: [...byModule.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([module, bytes]) => ({ module, bytes })),
  };
}

/** Time to `require()` `file` in a fresh node process, ms. */
function coldInit(file: string): number {
  const script = `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', POWERTOOLS_DEV: 'false' },
    encoding: 'utf8',
  });
  return Number(out);
}

async function main(): Promise<void> {
  const { values, count } = benchOptions(USAGE, {
    runs: { type: 'string', default: '9' },
    json: { type: 'boolean', default: false },
  });
  const runs = count('runs', values.runs);
  const target = esbuildTarget(TASK_QUEUE_DEFAULTS.runtime.name);
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-bundle-'));
  try {
    const built = new Map<BundleName, { file: string; partial: ReturnType<typeof analyse>; gzipBytes: number }>();
    for (const [name, entry] of Object.entries(ENTRIES) as [BundleName, string][]) {
      const outfile = join(dir, name, 'index.js');
      const result = await build({
        ...esbuildOptionsOf(LAMBDA_BUNDLING, target),
        entryPoints: [join(REPO, entry)],
        outfile,
        absWorkingDir: REPO,
        conditions: ['spool-source'],
        metafile: true,
        logLevel: 'error',
      });
      const gzipBytes = gzipSync(readFileSync(outfile), { level: 9 }).length;
      built.set(name, { file: outfile, partial: analyse(result.metafile, outfile), gzipBytes });
    }
    process.stderr.write(`bundled ${built.size} entries (target ${target}); ${runs} cold starts each…\n`);
    const times = new Map<BundleName, number[]>();
    for (let run = 0; run < runs; run++) {
      for (const [name, { file }] of built) times.set(name, [...(times.get(name) ?? []), roundMs(coldInit(file))]);
    }
    const bundles = Object.fromEntries(
      [...built].map(([name, { partial, gzipBytes }]) => {
        const runsMs = times.get(name) ?? [];
        const report: BundleReport = {
          entry: ENTRIES[name],
          ...partial,
          gzipBytes,
          coldInitMs: roundMs(median(runsMs)),
          coldInitRunsMs: runsMs,
        };
        return [name, report];
      }),
    ) as Record<BundleName, BundleReport>;
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const ratios = {
      workerBytes: ratio(bundles.worker.bytes, bundles.minimal.bytes),
      workerGzipBytes: ratio(bundles.worker.gzipBytes, bundles.minimal.gzipBytes),
      workerColdInit: ratio(bundles.worker.coldInitMs, bundles.minimal.coldInitMs),
      producerBytes: ratio(bundles.producer.bytes, bundles.minimal.bytes),
      producerGzipBytes: ratio(bundles.producer.gzipBytes, bundles.minimal.gzipBytes),
      producerColdInit: ratio(bundles.producer.coldInitMs, bundles.minimal.coldInitMs),
    };
    process.stdout.write(`${table(bundles, ratios, target, runs)}\n`);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ target, runs, bundles, ratios })}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(
  bundles: Record<BundleName, BundleReport>,
  ratios: Record<string, number>,
  target: string,
  runs: number,
): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const names = Object.keys(ENTRIES) as BundleName[];
  const rows: [string, (b: BundleReport) => string][] = [
    ['bundle', (b) => kb(b.bytes)],
    ['gzipped', (b) => kb(b.gzipBytes)],
    ['zod', (b) => `${kb(b.zodBytes)} (${(b.zodShare * 100).toFixed(0)}%)`],
    ['zod locales', (b) => kb(b.zodLocaleBytes)],
    ['lib/embedded', (b) => yes(b.includes.embedded)],
    ['lib/worker', (b) => yes(b.includes.worker)],
    ['handlers', (b) => yes(b.includes.handlers)],
    ['providers', (b) => yes(b.includes.providers)],
    [`cold init (median of ${runs})`, (b) => `${b.coldInitMs.toFixed(1)} ms`],
  ];
  const width = 24;
  const cell = (s: string) => s.padStart(width);
  const lines = [
    `esbuild: LAMBDA_BUNDLING of spool-tasks/cdk, target ${target}, sources via the spool-source condition`,
    '',
    `${''.padEnd(26)}${names.map((n) => cell(n)).join('')}`,
    ...rows.map(([label, value]) => `${label.padEnd(26)}${names.map((n) => cell(value(bundles[n]))).join('')}`),
    '',
    ...names.map(
      (n) =>
        `${n.padEnd(9)} largest: ${bundles[n].largest.map((m) => `${m.module} ${kb(m.bytes)}`).join(', ')} (${bundles[n].entry})`,
    ),
    '',
    `worker / minimal:   ${ratios.workerBytes}× bytes, ${ratios.workerGzipBytes}× gzipped, ${ratios.workerColdInit}× cold init`,
    `producer / minimal: ${ratios.producerBytes}× bytes, ${ratios.producerGzipBytes}× gzipped, ${ratios.producerColdInit}× cold init`,
  ];
  return lines.join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:bundle failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
