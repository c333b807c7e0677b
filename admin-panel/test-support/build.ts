/**
 * Builds the panel for tests into a cache directory keyed by a hash of its sources, so test
 * files running in parallel share one build and a rebuild happens only after a change.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PANEL_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(PANEL_ROOT, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.test.ts') ? [] : [path];
  });
}

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [
    ...sourceFiles(join(PANEL_ROOT, 'src')),
    join(PANEL_ROOT, 'loader.js'),
    join(PANEL_ROOT, 'vite.config.ts'),
  ].sort()) {
    hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The directory holding mai-usage-panel.js and loader.js built from the current sources. */
export async function buildPanelForTests(): Promise<string> {
  const cacheRoot = join(REPO_ROOT, 'node_modules', '.cache', 'mai-usage-panel');
  const outDir = join(cacheRoot, sourceHash());
  if (existsSync(join(outDir, 'loader.js'))) return outDir;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = `${outDir}.tmp-${process.pid}`;
  const { build } = await import('vite');
  process.env.MAI_PANEL_OUT_DIR = tmp;
  try {
    await build({ configFile: join(PANEL_ROOT, 'vite.config.ts'), mode: 'test', logLevel: 'warn' });
  } finally {
    delete process.env.MAI_PANEL_OUT_DIR;
  }
  try {
    renameSync(tmp, outDir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker finished first
  }
  return outDir;
}
