import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { REPO_ROOT } from '../../../test-support/build.js';
import { NOW, seedEvents } from '../../../test-support/fixtures.js';
import { mountElement, startPanelEnv, USER_OWUI_TOKEN, type PanelEnv } from '../../../test-support/panel-env.js';

const ARTIFACTS = join(REPO_ROOT, 'test-results', 'admin-panel');

describe('<mai-my-usage> for an Open WebUI user, in Chromium', () => {
  let env: PanelEnv;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startPanelEnv({ now: NOW });
    await env.ingest(seedEvents);
  });

  afterAll(async () => {
    await env?.close();
  });

  const card = (page: import('playwright-core').Page, name: string) =>
    textOf(page.locator(`mai-stat-card[data-card="${name}"] [data-testid="value"]`));

  it("shows the user's organization today and this month, USD only while PLN is unavailable", async () => {
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN });
    await page.locator('mai-stat-card[data-card="today-tokens"]').waitFor();
    expect(await textOf(page.locator('[data-testid="org-name"]'))).toBe('Default organization');
    expect(await card(page, 'today-tokens')).toBe('1,751');
    expect(await card(page, 'today-cost')).toBe('$0.002002');
    expect(await card(page, 'month-total')).toBe('$9.75');
    expect(await textOf(page.locator('[data-testid="pln-unavailable"]'))).toBe(
      'PLN conversion temporarily unavailable',
    );
    expect(await seriousA11yViolations(page, 'mai-my-usage')).toEqual([]);
    await page.context().close();
  });

  it('shows PLN beside USD with the NBP rate and date when the sidecar sends them, in Polish', async () => {
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    // The real response, plus the PLN fields the NBP feature adds (issue 4's shape).
    await page.route(`${env.sidecarUrl}/api/v1/client-organizations/usage/my-organization`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const rate = 4.0123;
      body.exchange_rate = rate;
      body.exchange_rate_date = '2026-03-20';
      body.exchange_rate_info = {
        usd_pln: rate,
        effective_date: '2026-03-20',
        source: 'NBP table C ask',
        table_no: '055/C/NBP/2026',
      };
      body.stats.today.cost_pln = 0.01;
      body.stats.this_month.cost_pln = 39.13;
      await route.fulfill({ response, json: body });
    });
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN, lang: 'pl' });
    await page.locator('mai-stat-card[data-card="month-total"]').waitFor();
    expect(await card(page, 'month-total')).toBe('$9.75 (39,13 zł)');
    expect(await card(page, 'today-cost')).toBe('$0.002002 (0,01 zł)');
    expect(await card(page, 'today-tokens')).toBe('1 751');
    expect(await textOf(page.locator('[data-testid="nbp-rate"]'))).toBe(
      'Kurs NBP: 1 USD = 4.0123 PLN (055/C/NBP/2026), z dnia 2026-03-20',
    );
    expect(await textOf(page.locator('mai-my-usage h2'))).toBe('Moje zużycie');
    await page.screenshot({ path: join(ARTIFACTS, 'my-usage-pln.png'), fullPage: true });
    await page.context().close();
  });

  it('shows a quiet notice, not an error page, when the sidecar cannot be reached', async () => {
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    await page.route(`${env.sidecarUrl}/api/**`, (route) => route.abort('connectionrefused'));
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN });
    const notice = page.locator('mai-my-usage [data-testid="error"]');
    await notice.waitFor();
    expect(await textOf(notice)).toContain('Usage data is unavailable right now');
    await page.context().close();
  });
});
