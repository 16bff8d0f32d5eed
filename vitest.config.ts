import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Examples and tests import the package by its public names; point those at the sources so
    // a test never runs against a stale build.
    alias: [
      { find: /^hotcold$/, replacement: src('index.ts') },
      { find: /^hotcold\/(lease|node|testing|axios|grpc)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Suites spawn real processes and talk to real databases: give them room, and keep
    // the run to two workers so the 2-core CI machine is not oversubscribed.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
