import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the "@gopherkit/source"
// export condition; the built output is exercised separately under plain node
// (test/built-packages.test.ts).
const conditions = ['@gopherkit/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@gopherkit/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'demos/**/*.test.ts', 'bench/**/*.test.ts', 'docs/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
