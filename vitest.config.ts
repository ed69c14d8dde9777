import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['node/**/*.test.ts', 'operator/**/*.test.ts', 'test/**/*.test.ts', 'hack/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
