import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { REPO_ROOT } from '../../../test-support/build.js';
import { expected, NOW, plnText, seedEvents } from '../../../test-support/fixtures.js';
import { ADMIN_OWUI_TOKEN, mountElement, startPanelEnv, type PanelEnv } from '../../../test-support/panel-env.js';
import { completionEvent } from '../../../../sidecar/src/test-support/harness.js';

const ARTIFACTS = join(REPO_ROOT, 'test-results', 'admin-panel');

describe('<mai-usage-dashboard> against a real sidecar, in Chromium', () => {
  let env: PanelEnv;
  let page: Page;
  let orgId: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startPanelEnv({ now: NOW });
    await env.ingest(seedEvents);
    const summary = await env.test.as(ADMIN_OWUI_TOKEN).get('/api/v1/client-organizations/usage/summary');
    orgId = summary.body.client_org_id;
    // 9.75 of 12 USD = 81.27%: the 80% banner shows.
    await env.test
      .as(ADMIN_OWUI_TOKEN)
      .patch(`/api/v1/client-organizations/clients/${orgId}`)
      .send({ monthly_limit_usd: 12 });
    page = await env.openHostPage();
    await mountElement(page, 'mai-usage-dashboard', {
      'api-base': env.sidecarUrl,
      token: ADMIN_OWUI_TOKEN,
      'refresh-seconds': '2',
    });
    await page.locator('mai-stat-card[data-card="today-tokens"]').waitFor();
  });

  afterAll(async () => {
    await env?.close();
  });

  const card = (name: string) => textOf(page.locator(`mai-stat-card[data-card="${name}"] [data-testid="value"]`));

  it('shows the four cards with the API figures, formatted as the seeds show them', async () => {
    expect(await card('today-tokens')).toBe(expected.todayTokens);
    expect(await card('today-cost')).toBe(expected.todayCost);
    expect(await card('month-total')).toBe(expected.monthTotal);
    expect(await card('daily-average')).toBe(expected.dailyAverage);
    expect(await page.locator('mai-stat-card[data-card="today-tokens"] .dot').count()).toBe(1);
    expect(await textOf(page.locator('[data-testid="org-name"]'))).toBe('Default organization');
    expect(await textOf(page.locator('[data-testid="last-updated"]'))).toMatch(/^Last updated: \d\d:\d\d:\d\d$/);
  });

  it('says PLN is unavailable when the sidecar sends no rate', async () => {
    expect(await textOf(page.locator('[data-testid="pln-unavailable"]'))).toBe(
      'PLN conversion temporarily unavailable',
    );
  });

  it('shows the 80% limit banner', async () => {
    const banner = page.locator('mai-limit-banner [role="alert"]');
    expect(await banner.getAttribute('data-level')).toBe('warning');
    expect(await textOf(banner)).toContain('81.27% of its monthly limit ($12.00)');
  });

  it('draws the 30-day trend as SVG bars, one per day, today highlighted', async () => {
    const bars = page.locator('mai-trend-chart rect.bar');
    expect(await bars.count()).toBe(30);
    expect(await bars.first().getAttribute('data-date')).toBe('2026-02-19');
    expect(await page.locator('mai-trend-chart rect.bar.today').getAttribute('data-date')).toBe('2026-03-20');
    const height = async (date: string) =>
      Number(await page.locator(`mai-trend-chart rect[data-date="${date}"]`).getAttribute('height'));
    // 6.5 USD on 03-05 is twice 3.25 on 03-10.
    expect((await height('2026-03-05')) / (await height('2026-03-10'))).toBeCloseTo(2, 5);
    expect(await height('2026-03-06')).toBe(0);
    expect(await textOf(page.locator('mai-trend-chart figcaption'))).toBe(
      'Last 30 days: $11.05 in total, highest $6.50 on 2026-03-05.',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-trend.png'), fullPage: true });
  });

  it('moves between tabs with the keyboard and shows Usage Stats', async () => {
    await page.locator('mai-tabs [role="tab"][aria-selected="true"]').focus();
    await page.keyboard.press('ArrowRight');
    const selected = page.locator('mai-tabs [role="tab"][aria-selected="true"]');
    expect(await textOf(selected)).toBe('Usage Stats');
    expect(
      await page.evaluate(() => {
        const tabs = document.querySelector('mai-usage-dashboard')!.shadowRoot!.querySelector('mai-tabs')!;
        return tabs.shadowRoot!.activeElement?.textContent?.trim();
      }),
    ).toBe('Usage Stats');
    const stats = await textOf(page.locator('[data-testid="usage-stats"]'));
    expect(stats).toContain('Requests this month 3');
    expect(stats).toContain(`Tokens this month ${expected.monthTokens}`);
    expect(stats).toContain('Monthly limit used 81.27% ($9.75 / $12.00)');
    await page.keyboard.press('End');
    expect(await textOf(selected)).toBe('Organization');
    await page.keyboard.press('Home');
    expect(await textOf(selected)).toBe('Daily Trend');
  });

  it('lists users and models in sortable tables', async () => {
    await page.locator('mai-tabs [role="tab"]', { hasText: 'By User' }).click();
    const rows = page.locator('mai-data-table[data-testid="by-user"] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    // Largest cost first: Otto 6.50, then user-1 3.25 + 0.002002.
    expect(await textOf(rows.nth(0))).toContain('$6.50');
    expect(await textOf(rows.nth(1))).toContain('$3.25');
    expect(await textOf(page.locator('mai-data-table[data-testid="by-user"] tfoot'))).toContain(expected.monthTotal);
    // Sort by cost ascending with the keyboard: focus the header button, Enter twice.
    const costHeader = page.locator('mai-data-table[data-testid="by-user"] th button', { hasText: 'Cost' });
    await costHeader.focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    expect(await page.locator('mai-data-table[data-testid="by-user"] th[aria-sort="ascending"]').count()).toBe(1);
    expect(await textOf(rows.nth(0))).toContain('$3.25');

    await page.locator('mai-tabs [role="tab"]', { hasText: 'By Model' }).click();
    const models = page.locator('mai-data-table[data-testid="by-model"] tbody tr');
    await models.first().waitFor();
    expect(await models.count()).toBe(2);
    expect(await textOf(models.nth(0))).toMatch(/^anthropic\/claude-sonnet-4 anthropic 1 30,000 \$6\.50 66\.65%$/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-by-model.png'), fullPage: true });
  });

  it('picks up a new event within one refresh interval', async () => {
    await env.ingest([
      completionEvent({
        event_id: 'gen-today-2',
        occurred_at: '2026-03-20T11:00:00Z',
        usage: { input_tokens: 200, output_tokens: 49, cost_usd: 0.001 },
      }),
    ]);
    // refresh-seconds=2 in this test; the seeds' 30 s is the default.
    await page.waitForFunction(
      () => {
        const dashboard = document.querySelector('mai-usage-dashboard')!.shadowRoot!;
        const value = dashboard
          .querySelector('mai-stat-card[data-card="today-tokens"]')!
          .shadowRoot!.querySelector('[data-testid="value"]');
        return value?.textContent === '2,000';
      },
      undefined,
      { timeout: 5_000 },
    );
    // 0.002002 + 0.001 × 1.3
    expect(await card('today-cost')).toBe('$0.003302');
  });

  it('downloads the CSV export with the ledger rows of the chosen range', async () => {
    await page.locator('mai-tabs [role="tab"]', { hasText: 'Export' }).click();
    const form = page.locator('mai-export-form');
    await form.locator('input[name="from"]').fill('2026-03-01');
    await form.locator('input[name="to"]').fill('2026-03-10');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      form.locator('button[type="submit"]').click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8');
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toMatch(/^event_id,occurred_at,usage_day,client_org_id,user_id,model/);
    expect(
      lines
        .slice(1)
        .map((line) => line.split(',')[0])
        .sort(),
    ).toEqual(['gen-mar-05', 'gen-mar-10']);
  });

  it('has no serious accessibility violations (axe-core)', async () => {
    await page.locator('mai-tabs [role="tab"]', { hasText: 'Daily Trend' }).click();
    expect(await seriousA11yViolations(page, 'mai-usage-dashboard')).toEqual([]);
    await page.locator('mai-tabs [role="tab"]', { hasText: 'Organization' }).click();
    await page.locator('mai-org-settings form[data-form="org"]').waitFor();
    expect(await seriousA11yViolations(page, 'mai-usage-dashboard')).toEqual([]);
  });

  it('follows the dark theme and fits a phone screen', async () => {
    await page.locator('mai-tabs [role="tab"]', { hasText: 'Daily Trend' }).click();
    await page.evaluate(() => document.querySelector('mai-usage-dashboard')!.setAttribute('theme', 'dark'));
    await page.setViewportSize({ width: 375, height: 800 });
    const background = await page.evaluate(
      () => getComputedStyle(document.querySelector('mai-usage-dashboard')!).backgroundColor,
    );
    expect(background).toBe('rgb(23, 23, 23)');
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone-dark.png'), fullPage: true });
    expect(await seriousA11yViolations(page, 'mai-usage-dashboard')).toEqual([]);
  });
});

describe('<mai-usage-dashboard> with NBP rates (the fake NBP), in Chromium', () => {
  let env: PanelEnv;

  beforeAll(async () => {
    env = await startPanelEnv({ now: NOW, nbp: true });
    await env.ingest(seedEvents);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('shows PLN beside USD on cards and in tables, with the NBP rate, table and date', async () => {
    const rate = env.nbp!.table('C', '2026-03-20')!;
    const page = await env.openHostPage();
    await mountElement(page, 'mai-usage-dashboard', { 'api-base': env.sidecarUrl, token: ADMIN_OWUI_TOKEN });
    await page.locator('mai-stat-card[data-card="month-total"]').waitFor();
    const card = (name: string) => textOf(page.locator(`mai-stat-card[data-card="${name}"] [data-testid="value"]`));
    expect(await card('today-cost')).toBe(`$0.002002 (${plnText(2_002_000n, rate.ask!)})`);
    expect(await card('month-total')).toBe(`$9.75 (${plnText(9_752_002_000n, rate.ask!)})`);
    // The daily average is its own exact figure: 9.752002 / 20 days, to the nano-USD, then to PLN.
    expect(await card('daily-average')).toBe(`$0.49 (${plnText(487_600_100n, rate.ask!)})`);
    expect(await textOf(page.locator('mai-usage-dashboard [data-testid="nbp-rate"]'))).toBe(
      `NBP rate: 1 USD = ${rate.ask} PLN (${rate.no}), as of 2026-03-20`,
    );
    await page.locator('mai-tabs [role="tab"]', { hasText: 'By User' }).click();
    const rows = page.locator('mai-data-table[data-testid="by-user"] tbody tr');
    await rows.first().waitFor();
    expect(await textOf(rows.nth(0))).toContain(`$6.50 (${plnText(6_500_000_000n, rate.ask!)})`);
    expect(await textOf(page.locator('mai-data-table[data-testid="by-user"] tfoot'))).toContain(
      `$9.75 (${plnText(9_752_002_000n, rate.ask!)})`,
    );
    await page.context().close();
  });
});
