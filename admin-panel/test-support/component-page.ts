/**
 * A blank Chromium page with the built panel bundle loaded, for leaf components that take
 * properties and emit events (no sidecar needed).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import { buildPanelForTests } from './build.js';

export type ComponentPage = { browser: Browser; page: Page; close(): Promise<void> };

export async function openComponentPage(): Promise<ComponentPage> {
  const distDir = await buildPanelForTests();
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  page.on('pageerror', (error) => console.error('page error:', error));
  await page.setContent(
    '<!doctype html><html lang="en"><head><title>component</title></head><body><main id="root"></main></body></html>',
  );
  await page.addScriptTag({ path: join(distDir, 'mai-usage-panel.js'), type: 'module' });
  await page.waitForFunction(() => customElements.get('mai-stat-card') !== undefined);
  return { browser, page, close: () => browser.close() };
}

/** Replaces #root with `html` and waits for Lit to render. */
export async function render(page: Page, html: string): Promise<void> {
  await page.evaluate(async (markup) => {
    const root = document.getElementById('root')!;
    root.innerHTML = markup;
    await Promise.all(
      [...root.querySelectorAll('*')].map(
        (el) => (el as Element & { updateComplete?: Promise<unknown> }).updateComplete,
      ),
    );
  }, html);
}
