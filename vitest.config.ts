import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { EGL_PLATFORM: 'surfaceless' },
    // Test folders fill up over several issues; an empty selection is not a failure.
    passWithNoTests: true,
  },
});
