import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPanelRouter } from './panel.router.js';
import { SIDECAR_URL_PLACEHOLDER } from './panel.service.js';

const loaderSource = readFileSync(
  join(import.meta.dirname, '..', '..', '..', '..', 'admin-panel', 'loader.js'),
  'utf8',
);

describe('panel router', () => {
  let dist: string;
  const app = (options: Parameters<typeof createPanelRouter>[0] = {}) =>
    express().use(createPanelRouter({ distDir: dist, ...options }));

  beforeAll(() => {
    dist = mkdtempSync(join(tmpdir(), 'mai-panel-'));
    writeFileSync(join(dist, 'mai-usage-panel.js'), 'export const panel = 1;\n');
    writeFileSync(join(dist, 'loader.js'), loaderSource);
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  it('the loader source carries the placeholder the router replaces', () => {
    expect(loaderSource).toMatch(new RegExp(`const SIDECAR_URL = ${SIDECAR_URL_PLACEHOLDER.source};`));
  });

  it('serves the bundle as JavaScript, CORS-open, revalidated by ETag', async () => {
    const first = await request(app()).get('/panel/mai-usage-panel.js').expect(200);
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers['access-control-allow-origin']).toBe('*');
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.text).toBe('export const panel = 1;\n');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    await request(app()).get('/panel/mai-usage-panel.js').set('if-none-match', etag).expect(304);
  });

  it('picks up a rebuilt bundle without a restart', async () => {
    const server = app();
    const before = (await request(server).get('/panel/mai-usage-panel.js')).headers.etag;
    writeFileSync(join(dist, 'mai-usage-panel.js'), 'export const panel = 2; // rebuilt\n');
    const after = await request(server).get('/panel/mai-usage-panel.js');
    expect(after.text).toContain('panel = 2');
    expect(after.headers.etag).not.toBe(before);
  });

  it('bakes PUBLIC_SIDECAR_URL into the loader', async () => {
    const response = await request(app({ publicSidecarUrl: 'https://usage.acme.example/' }))
      .get('/panel/loader.js')
      .expect(200);
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(response.text).toContain('const SIDECAR_URL = "https://usage.acme.example";');
    expect(response.text).not.toContain('__MAI_USAGE_SIDECAR_URL__');
  });

  it('without PUBLIC_SIDECAR_URL, bakes the URL the loader was fetched from', async () => {
    const response = await request(app()).get('/panel/loader.js').set('host', 'sidecar.internal:3100').expect(200);
    expect(response.text).toContain('const SIDECAR_URL = "http://sidecar.internal:3100";');
  });

  it("serves the operator's page at / under a strict CSP", async () => {
    const response = await request(app()).get('/').expect(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.text).toContain('<script type="module" src="panel/mai-usage-panel.js"></script>');
    expect(response.text).toContain('<mai-operator-page');
  });

  it('answers 503 with the error shape when the panel is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mai-panel-empty-'));
    const response = await request(express().use(createPanelRouter({ distDir: empty })))
      .get('/panel/loader.js')
      .expect(503);
    expect(response.body).toEqual({
      error: { code: 'panel_not_built', message: 'the admin panel is not built: run `npm run build:panel`' },
    });
    rmSync(empty, { recursive: true, force: true });
  });
});
