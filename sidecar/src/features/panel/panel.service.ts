import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE_FILE = 'mai-usage-panel.js';
export const LOADER_FILE = 'loader.js';
/** The token in admin-panel/loader.js that the sidecar replaces with its public URL. */
/** The string literal in loader.js the sidecar replaces, in either quote style (formatters pick one). */
export const SIDECAR_URL_PLACEHOLDER = /(["'])__MAI_USAGE_SIDECAR_URL__\1/;

export type Asset = { body: Buffer; etag: string };

/** admin-panel/dist, found by walking up from this file (sidecar/src or dist/sidecar/src). */
export function defaultPanelDistDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i += 1) {
    if (existsSync(join(dir, 'admin-panel'))) return join(dir, 'admin-panel', 'dist');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'admin-panel', 'dist');
}

/**
 * Reads built panel files, re-reading only when a file changed on disk (a rebuild needs no
 * restart). Returns undefined when the panel has not been built.
 */
export function createAssetReader(distDir: string) {
  const cache = new Map<string, { mtimeMs: number; size: number; asset: Asset }>();
  return (file: string): Asset | undefined => {
    const path = join(distDir, file);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return undefined;
    }
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.asset;
    const body = readFileSync(path);
    const asset = { body, etag: etagOf(body) };
    cache.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, asset });
    return asset;
  };
}

export function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** The loader with the sidecar's public URL baked in, ready to mount into Open WebUI. */
export function bakeLoader(template: Buffer, sidecarUrl: string): string {
  const url = JSON.stringify(sidecarUrl.replace(/\/+$/, ''));
  return template.toString('utf8').replace(SIDECAR_URL_PLACEHOLDER, () => url);
}

/** The operator's page: the panel bundle and one element; no inline script. */
export function operatorPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>mai-usage · operator</title>
<style>body{margin:0;background:#fff}@media (prefers-color-scheme:dark){body{background:#171717}}</style>
<script type="module" src="panel/${BUNDLE_FILE}"></script>
</head>
<body>
<mai-operator-page api-base=""></mai-operator-page>
</body>
</html>
`;
}
