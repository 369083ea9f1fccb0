/**
 * The esbuild build options `NodejsFunction` derives from its `bundling` props (its CLI flags,
 * as esbuild's build API takes them), for bundling an entry exactly as the constructs do outside a
 * synthesis: `npm run bench:bundle` and the bundle tests. Not part of the package's API.
 *
 * @module
 */

import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** esbuild's target for a Lambda runtime name: `nodejs24.x` → `node24`. */
export function esbuildTarget(runtimeName: string): string {
  return runtimeName.replace(/^nodejs(\d+)\.x$/, 'node$1');
}

/** esbuild's options for `bundling`, targeting `target` (e.g. `node24`). */
export function esbuildOptionsOf(bundling: nodejs.BundlingOptions, target: string): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    target,
    format: bundling.format === 'esm' ? 'esm' : 'cjs',
    ...(bundling.minify === undefined ? {} : { minify: bundling.minify }),
    ...(bundling.sourceMap === undefined ? {} : { sourcemap: bundling.sourceMap }),
    ...(bundling.sourcesContent === undefined ? {} : { sourcesContent: bundling.sourcesContent }),
    ...(bundling.banner === undefined ? {} : { banner: { js: bundling.banner } }),
    ...(bundling.define === undefined ? {} : { define: bundling.define }),
    // bundleAwsSDK: true adds no @aws-sdk/* externals.
    external: [...(bundling.externalModules ?? []), ...(bundling.bundleAwsSDK === true ? [] : ['@aws-sdk/*'])],
  };
}
