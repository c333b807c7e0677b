/**
 * A real sidecar (createApp over a fresh SQLite database, with the panel router in front) and a
 * second origin standing in for Open WebUI's page, for the panel's Chromium tests. The panel on
 * the host page calls the sidecar cross-origin, exactly as inside Open WebUI.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { createPanelRouter } from '../../sidecar/src/features/panel/panel.router.js';
import { createFakeNbp, type FakeNbp } from '../../test/fakes/nbp/fake-nbp.js';
import { createTestApp, INGEST_TOKEN, openWebUiUsers, type TestApp } from '../../sidecar/src/test-support/harness.js';
import { launchChromium } from './browser.js';
import { buildPanelForTests } from './build.js';

export { ADMIN_TOKEN, INGEST_TOKEN } from '../../sidecar/src/test-support/harness.js';
export const ADMIN_OWUI_TOKEN = 'owui-admin-token';
export const USER_OWUI_TOKEN = 'owui-user-token';

export type PanelEnv = {
  test: TestApp;
  /** The sidecar's URL (panel router + API). */
  sidecarUrl: string;
  /** The stand-in for Open WebUI's origin, serving the host pages. */
  hostUrl: string;
  browser: Browser;
  /** The fake NBP the sidecar asks for rates (`startPanelEnv({ nbp: true })`); else NBP is unreachable. */
  nbp: FakeNbp | null;
  /** A new page on the host origin with `localStorage.token` set; `path` picks the host page. */
  openHostPage(options?: { token?: string; path?: string; theme?: 'light' | 'dark' }): Promise<Page>;
  ingest(events: Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
};

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );

/** The slice of Open WebUI's settings modal (0.12) the loader looks for. */
const settingsModal = `
<div role="dialog" aria-label="Settings" style="display:flex">
  <nav id="settings-tabs-container" style="width:14rem">
    <div class="tabs">
      <span class="group">Personal</span>
      <div role="tablist" aria-label="Personal" class="contents">
        <button role="tab" aria-controls="tab-general" aria-selected="true" class="tab active">General</button>
        <button role="tab" aria-controls="tab-account" aria-selected="false" class="tab">Account</button>
      </div>
      <span class="group">Admin</span>
      <div role="tablist" aria-label="Admin" class="contents">
        <span class="group">System</span>
        <button role="tab" aria-controls="tab-admin-general" aria-selected="false" class="tab">General</button>
      </div>
    </div>
  </nav>
  <div style="flex:1"><div id="tab-general">Open WebUI general settings</div></div>
</div>`;

function hostPage(sidecarUrl: string, kind: string, theme: string): string {
  const head =
    kind === 'components'
      ? `<script type="module" src="${sidecarUrl}/panel/mai-usage-panel.js"></script>`
      : // As Open WebUI's app.html does; /static/loader.js is the sidecar's loader, "mounted".
        '<script src="/static/loader.js" defer crossorigin="use-credentials"></script>';
  const body =
    kind === 'settings'
      ? settingsModal
      : kind === 'other-dialog'
        ? '<div role="dialog" aria-label="Something else">Other</div>'
        : '';
  return `<!doctype html><html lang="en" class="${theme}"><head><meta charset="utf-8"><title>Open WebUI stand-in</title>
<style>body{font-family:sans-serif;margin:0;padding:1rem}html.dark body{background:#171717;color:#eee}.tab.active{font-weight:bold}</style>
${head}</head><body><main id="root">${body}</main></body></html>`;
}

/** `nbp: true` points the sidecar at the fake NBP (real PLN fields); without it PLN is unavailable. */
export async function startPanelEnv(options: { now?: string; nbp?: boolean } = {}): Promise<PanelEnv> {
  const distDir = await buildPanelForTests();
  let sidecarUrl = '';
  // The host origin: Open WebUI's page, its /static/loader.js (the sidecar's loader, as if
  // mounted) and its /api/v1/auths/ for the loader's role check.
  const host = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    if (url.pathname === '/static/loader.js') {
      const loader = await fetch(`${sidecarUrl}/panel/loader.js`);
      res.writeHead(loader.status, { 'content-type': 'text/javascript; charset=utf-8' }).end(await loader.text());
      return;
    }
    if (url.pathname === '/api/v1/auths/') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const user = openWebUiUsers[token];
      res
        .writeHead(user ? 200 : 401, { 'content-type': 'application/json' })
        .end(JSON.stringify(user ?? { detail: 'no' }));
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(hostPage(sidecarUrl, url.pathname.slice(1) || 'components', url.searchParams.get('theme') ?? 'light'));
  });
  const hostUrl = await listen(host);

  const now = options.now ?? '2026-03-20T12:00:00Z';
  let clock = () => new Date(now);
  const nbp = options.nbp ? await createFakeNbp({ now: () => clock() }) : null;
  const test = await createTestApp('sqlite', {
    env: { PUBLIC_OPENWEBUI_ORIGIN: hostUrl, ...(nbp ? { NBP_API_BASE: nbp.url } : {}) },
    now,
  });
  clock = test.deps.now;
  const outer = express();
  outer.use(createPanelRouter({ distDir }));
  outer.use(test.app);
  const sidecar = createServer(outer);
  sidecarUrl = await listen(sidecar);
  const browser = await launchChromium();

  return {
    test,
    sidecarUrl,
    hostUrl,
    browser,
    nbp,
    async openHostPage({ token = ADMIN_OWUI_TOKEN, path = '/', theme = 'light' } = {}) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
      await context.addInitScript((value) => localStorage.setItem('token', value), token);
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error('page error:', error));
      const separator = path.includes('?') ? '&' : '?';
      await page.goto(`${hostUrl}${path}${separator}theme=${theme}`);
      return page;
    },
    async ingest(events) {
      const response = await test.as(INGEST_TOKEN).post('/api/v1/ingest/events').send({ events });
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${response.text}`);
    },
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => sidecar.close(() => resolve()));
      await new Promise<void>((resolve) => host.close(() => resolve()));
      await test.close();
      await nbp?.close();
    },
  };
}

/** Puts a page element on the host page and waits for it to render. */
export async function mountElement(page: Page, tag: string, attributes: Record<string, string>): Promise<void> {
  await page.waitForFunction((name) => customElements.get(name) !== undefined, tag);
  await page.evaluate(
    ([name, attrs]) => {
      const element = document.createElement(name);
      for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
      document.getElementById('root')!.replaceChildren(element);
    },
    [tag, attributes] as const,
  );
}
