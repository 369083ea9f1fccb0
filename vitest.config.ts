import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `spool-tasks` imports resolve to the sources (package.json's "spool-source" export condition).
  resolve: { conditions: ['spool-source'] },
  ssr: { resolve: { conditions: ['spool-source'], externalConditions: ['spool-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
