import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Tests are named by kind: *.unit.test.ts (no I/O), *.int.test.ts (real servers, files, devices),
// *.e2e.test.ts (the whole system as its users drive it). `make test-unit` runs the first kind alone.
const kinds = { unit: 'test/**/*.unit.test.ts', int: 'test/**/*.int.test.ts', e2e: 'test/**/*.e2e.test.ts' };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most files wait on servers and child processes rather than compute: two at a time even on a
    // 2-core machine (Vitest's default there is one).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    setupFiles: ['./test/support/event-loop-turn.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: Object.entries(kinds).map(([name, include]) => ({ extends: true, test: { name, include: [include] } })),
  },
});
