import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { REPO_ROOT } from '../../../test-support/build.js';
import { NOW, plnText, seedEvents } from '../../../test-support/fixtures.js';
import {
  ADMIN_TOKEN,
  mountElement,
  startPanelEnv,
  USER_OWUI_TOKEN,
  type PanelEnv,
} from '../../../test-support/panel-env.js';

const ARTIFACTS = join(REPO_ROOT, 'test-results', 'admin-panel');

describe('<mai-my-usage> for an Open WebUI user, in Chromium', () => {
  let env: PanelEnv;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startPanelEnv({ now: NOW, nbp: true });
    await env.ingest(seedEvents);
  });

  afterAll(async () => {
    await env?.close();
  });

  const card = (page: import('playwright-core').Page, name: string) =>
    textOf(page.locator(`mai-stat-card[data-card="${name}"] [data-testid="value"]`));

  it("shows the user's own and their organization's today and month, in USD and PLN at the NBP rate", async () => {
    const ask = env.nbp!.table('C', '2026-03-20')!;
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN });
    await page.locator('mai-stat-card[data-card="me-month"]').waitFor();
    expect(await textOf(page.locator('[data-testid="org-name"]'))).toBe('Default organization');
    // Their own: today the seeds' 1,751 tokens for $0.002002; this month also 2.5 × 1.3 on 03-10.
    expect(await card(page, 'me-today')).toBe(`$0.002002 (${plnText(2_002_000n, ask.ask!)})`);
    expect(await card(page, 'me-month')).toBe(`$3.25 (${plnText(3_252_002_000n, ask.ask!)})`);
    expect(await textOf(page.locator('mai-stat-card[data-card="me-month"] .detail'))).toBe('6,751 tokens · 2 requests');
    // The whole org: Otto's 6.50 on 03-05 too.
    expect(await card(page, 'today-tokens')).toBe('1,751');
    expect(await card(page, 'today-cost')).toBe(`$0.002002 (${plnText(2_002_000n, ask.ask!)})`);
    expect(await card(page, 'month-tokens')).toBe('36,751');
    expect(await card(page, 'month-total')).toBe(`$9.75 (${plnText(9_752_002_000n, ask.ask!)})`);
    expect(await textOf(page.locator('mai-my-usage [data-testid="nbp-rate"]'))).toBe(
      `NBP rate: 1 USD = ${ask.ask} PLN (${ask.no}), as of 2026-03-20`,
    );
    expect(await seriousA11yViolations(page, 'mai-my-usage')).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'my-usage-pln.png'), fullPage: true });
    await page.context().close();
  });

  it('shows their own limit from their mapping, in Polish', async () => {
    await env.test
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/user-mappings')
      .send({ user_id: 'user-1', client_org_id: 'org_default_default', monthly_limit_usd: 10 })
      .expect(201);
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN, lang: 'pl' });
    await page.locator('mai-stat-card[data-card="me-month"]').waitFor();
    expect(await textOf(page.locator('mai-stat-card[data-card="me-month"] .detail'))).toBe(
      '6 751 tokeny · 2 zapytania · 32,52% Twojego limitu $10.00',
    );
    expect(await card(page, 'today-tokens')).toBe('1 751');
    expect(await textOf(page.locator('mai-my-usage h2'))).toBe('Moje zużycie');
    expect(await textOf(page.locator('mai-my-usage [data-testid="nbp-rate"]'))).toMatch(/^Kurs NBP: 1 USD = /);
    await page.context().close();
  });

  it('says PLN is unavailable, in USD only, when the sidecar has no rate', async () => {
    const page = await env.openHostPage({ token: USER_OWUI_TOKEN });
    // The documented answer without any NBP rate (docs/api.md): every PLN field null.
    await page.route(`${env.sidecarUrl}/api/v1/client-organizations/usage/my-organization`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const strip = (totals: Record<string, unknown>) => {
        for (const key of ['cost_pln', 'cost_pln_grosz', 'exchange_rate', 'exchange_rate_date', 'exchange_rate_source'])
          totals[key] = null;
      };
      for (const totals of [body.stats.today, body.stats.this_month, body.stats.me.today, body.stats.me.this_month])
        strip(totals);
      body.stats.exchange_rate_info = {
        pln_available: false,
        usd_pln: null,
        effective_date: null,
        table_no: null,
        source: null,
        message: 'PLN conversion temporarily unavailable',
      };
      await route.fulfill({ response, json: body });
    });
    await mountElement(page, 'mai-my-usage', { 'api-base': env.sidecarUrl, token: USER_OWUI_TOKEN });
    await page.locator('mai-stat-card[data-card="month-total"]').waitFor();
    expect(await card(page, 'month-total')).toBe('$9.75');
    expect(await card(page, 'me-today')).toBe('$0.002002');
    expect(await textOf(page.locator('[data-testid="pln-unavailable"]'))).toBe(
      'PLN conversion temporarily unavailable',
    );
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
