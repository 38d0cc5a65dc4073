import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native addon + worker threads: forks isolate a crash to one file instead of the whole run.
    pool: 'forks',
  },
});
