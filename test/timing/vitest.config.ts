// Checks whose pass/fail depends on wall-clock time (etcdctl's check perf bounds, no leader change
// under heavy load). They belong to `make bench` (BENCH=timing), never to `make test`: CI runs on a
// shared 2-core machine where a busy neighbour can stretch any latency.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/timing/**/*.timing.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
