import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['sidecar/**/*.test.ts', 'test/**/*.test.ts', 'admin-panel/**/*.test.ts'],
    // The real-Open-WebUI test has its own command (npm run test:openwebui).
    exclude: ['**/node_modules/**', 'dist/**', 'test/openwebui/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
