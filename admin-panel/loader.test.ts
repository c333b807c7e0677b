import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textOf } from './test-support/browser.js';
import { expected, NOW, seedEvents } from './test-support/fixtures.js';
import { startPanelEnv, USER_OWUI_TOKEN, type PanelEnv } from './test-support/panel-env.js';

/**
 * loader.js on a page shaped like Open WebUI 0.12's settings modal (the real Open WebUI runs in
 * test/openwebui/panel-embed.ts); the loader is fetched from the sidecar, URL baked in.
 */
describe('loader.js in Chromium', () => {
  let env: PanelEnv;

  beforeAll(async () => {
    env = await startPanelEnv({ now: NOW });
    await env.ingest(seedEvents);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('adds Usage to the admin tabs and My usage to the personal tabs, and hands the panel back', async () => {
    const page = await env.openHostPage({ path: '/settings' });
    const errors: Error[] = [];
    page.on('pageerror', (error) => errors.push(error));
    const usageTab = page.locator('[data-mai-usage-tab="admin"]');
    await usageTab.waitFor();
    expect(await textOf(usageTab)).toBe('Usage');
    expect(await page.locator('[role="tablist"][aria-label="Admin"] [data-mai-usage-tab="admin"]').count()).toBe(1);
    expect(await textOf(page.locator('[role="tablist"][aria-label="Personal"] [data-mai-usage-tab="user"]'))).toBe(
      'My usage',
    );

    await usageTab.click();
    const value = page.locator('mai-usage-dashboard mai-stat-card[data-card="today-cost"] [data-testid="value"]');
    await value.waitFor();
    expect(await textOf(value)).toBe(expected.todayCost);
    expect(await usageTab.getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('[aria-controls="tab-general"]').getAttribute('aria-selected')).toBe('false');
    expect(await page.locator('#tab-general').isVisible()).toBe(false);

    await page.locator('[aria-controls="tab-general"]').click();
    expect(await page.locator('mai-usage-dashboard').count()).toBe(0);
    expect(await page.locator('#tab-general').isVisible()).toBe(true);
    expect(await page.locator('[aria-controls="tab-general"]').getAttribute('aria-selected')).toBe('true');
    expect(await usageTab.getAttribute('aria-selected')).toBe('false');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('opens My usage from the deep link /?settings=my-usage, following the dark theme', async () => {
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN, path: '/settings?settings=my-usage', theme: 'dark' });
    const element = page.locator('mai-my-usage');
    await element.locator('mai-stat-card[data-card="month-total"]').waitFor();
    expect(await element.getAttribute('theme')).toBe('dark');
    expect(await textOf(element.locator('mai-stat-card[data-card="month-total"] [data-testid="value"]'))).toBe(
      expected.monthTotal,
    );
    await page.evaluate(() => document.documentElement.classList.remove('dark'));
    await page.waitForFunction(() => document.querySelector('mai-my-usage')?.getAttribute('theme') === 'light');
    await page.context().close();
  });

  it('with the sidecar down, shows a quiet notice and leaves the page working', async () => {
    const page = await env.openHostPage({ path: '/settings' });
    const errors: Error[] = [];
    page.on('pageerror', (error) => errors.push(error));
    await page.route(`${env.sidecarUrl}/panel/mai-usage-panel.js`, (route) => route.abort('connectionrefused'));
    await page.locator('[data-mai-usage-tab="admin"]').click();
    const notice = page.locator('[data-mai-usage-notice]');
    await notice.waitFor();
    expect(await textOf(notice)).toContain('Usage data is unavailable right now');
    await page.locator('[aria-controls="tab-account"]').click();
    expect(await page.locator('#tab-general').isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('offers a floating entry when a dialog is open but not a settings modal it knows', async () => {
    const page = await env.openHostPage({ path: '/other-dialog' });
    const floating = page.locator('[data-mai-usage-floating]');
    await floating.waitFor({ timeout: 6_000 });
    await floating.click();
    const overlay = page.locator('dialog[data-mai-usage-overlay]');
    await overlay.locator('mai-usage-dashboard mai-stat-card[data-card="month-total"]').waitFor();
    expect(await textOf(overlay.locator('mai-stat-card[data-card="month-total"] [data-testid="value"]'))).toBe(
      expected.monthTotal,
    );
    await page.keyboard.press('Escape');
    await overlay.waitFor({ state: 'detached' });
    await page.context().close();
  });
});
