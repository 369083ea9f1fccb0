/**
 * A producer does not bundle the handlers: functions/producer.ts (the example's contracts, the AWS
 * backend, `createProducer`), bundled by esbuild as the constructs bundle a function, holds no module
 * of the worker, of the embedded runtime, or of the example's handlers and providers. The package
 * resolves to its sources (the `spool-source` condition), the module graph dist/ is compiled from.
 */

import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function inputsOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: REPO,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    target: 'node22',
    conditions: ['spool-source'],
    external: ['better-sqlite3'],
    metafile: true,
    write: false,
    outfile: 'index.js',
    logLevel: 'error',
  });
  const output: Metafile['outputs'][string] | undefined = Object.values(result.metafile.outputs)[0];
  return Object.entries(output?.inputs ?? {})
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
}

describe('the producer bundle', () => {
  let producer: string[] = [];
  let worker: string[] = [];
  beforeAll(async () => {
    [producer, worker] = await Promise.all([inputsOf('functions/producer.ts'), inputsOf('functions/worker.ts')]);
  }, 60_000);

  it('GIVEN the producer Lambda WHEN bundled THEN it holds the contracts and the AWS backend, and no worker, embedded, handler or provider module', () => {
    expect(producer).toContain('examples/orders/contracts.ts');
    expect(producer).toContain('lib/client/producer.ts');
    expect(producer.some((p) => p.startsWith('lib/aws/'))).toBe(true);
    expect(producer.filter((p) => p.startsWith('lib/worker/'))).toEqual([]);
    expect(producer.filter((p) => p.startsWith('lib/embedded/'))).toEqual([]);
    expect(producer).not.toContain('examples/orders/handlers.ts');
    expect(producer).not.toContain('examples/orders/providers.ts');
  });

  it('GIVEN the worker Lambda WHEN bundled THEN it holds the handlers and the worker (the same check can see them)', () => {
    expect(worker).toContain('examples/orders/handlers.ts');
    expect(worker).toContain('examples/orders/providers.ts');
    expect(worker.some((p) => p.startsWith('lib/worker/'))).toBe(true);
  });
});
