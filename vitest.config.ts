import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native code: separate processes isolate a crash to one file.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
