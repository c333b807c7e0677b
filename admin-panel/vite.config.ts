/**
 * Builds the panel into one ES module, admin-panel/dist/mai-usage-panel.js, and copies the
 * loader beside it; the sidecar serves both (sidecar/src/features/panel). Fails the build when
 * the bundle exceeds its size budget.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));
export const BUNDLE_NAME = 'mai-usage-panel.js';
const BUDGET_GZIP_BYTES = 60 * 1024;

/** Copies loader.js into the output and checks the gzipped bundle against the budget. */
function loaderAndBudget(outDir: string): Plugin {
  return {
    name: 'mai-loader-and-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunk = bundle[BUNDLE_NAME];
      if (!chunk || chunk.type !== 'chunk') return;
      const gzipped = gzipSync(chunk.code).length;
      const line = `${BUNDLE_NAME}: ${(chunk.code.length / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_GZIP_BYTES / 1024} KB)`;
      if (gzipped > BUDGET_GZIP_BYTES) this.error(`size budget exceeded — ${line}`);
      this.info(line);
    },
    writeBundle() {
      mkdirSync(outDir, { recursive: true });
      copyFileSync(join(root, 'loader.js'), join(outDir, 'loader.js'));
    },
  };
}

export default defineConfig(({ mode }) => {
  // Tests build into a cache directory of their own (admin-panel/test-support/build.ts).
  const outDir = process.env.MAI_PANEL_OUT_DIR ?? join(root, 'dist');
  return {
    root,
    logLevel: mode === 'test' ? 'warn' : 'info',
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: true,
      sourcemap: false,
      reportCompressedSize: false,
      lib: {
        entry: join(root, 'src', 'index.ts'),
        formats: ['es'],
        fileName: () => BUNDLE_NAME,
      },
    },
    plugins: [loaderAndBudget(outDir)],
  };
});
