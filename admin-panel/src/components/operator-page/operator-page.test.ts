import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { REPO_ROOT } from '../../../test-support/build.js';
import { groszText, NOW, plnText, seedEvents } from '../../../test-support/fixtures.js';
import { ADMIN_TOKEN, startPanelEnv, type PanelEnv } from '../../../test-support/panel-env.js';

const ARTIFACTS = join(REPO_ROOT, 'test-results', 'admin-panel');
const DEFAULT_ORG = 'org_default_default';

describe("the operator's page on the sidecar (/), in Chromium", () => {
  let env: PanelEnv;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startPanelEnv({ now: NOW, nbp: true });
    await env.ingest(seedEvents);
    await env.test
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/clients')
      .send({ name: 'Acme Sp. z o.o.', markup_rate: 1.5 });
    // What the OpenRouter sync would have stored: OpenRouter 10 cents above the ledger in March.
    const row = (kind: string, period: string, model: string, openRouter: bigint, ledger: bigint) => ({
      client_org_id: DEFAULT_ORG,
      kind,
      period,
      model,
      openrouter_nano_usd: openRouter.toString(),
      ledger_nano_usd: ledger.toString(),
      drift_nano_usd: (openRouter - ledger).toString(),
      openrouter_requests: null,
      ledger_requests: null,
      checked_at: '2026-03-20T11:00:00.000Z',
    });
    await env.test
      .db('reconciliations')
      .insert([
        row('key_monthly', '2026-03', '', 7_601_540_000n, 7_501_540_000n),
        row('key_daily', '2026-03-05', '', 5_100_000_000n, 5_000_000_000n),
        row('key_monthly', '2026-02', '', 1_000_000_000n, 1_000_000_000n),
      ]);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('signs in with ADMIN_TOKEN and shows the month: raw cost, markup, billed with PLN, profit, statement', async () => {
    const nbp = env.nbp!;
    const ask = nbp.table('C', '2026-03-20')!.ask!;
    // Table A mid of the NBP business day before each usage day (all plain weekdays here).
    const dayLines: [string, bigint, string][] = [
      ['2026-03-05', 6_500_000_000n, '2026-03-04'],
      ['2026-03-10', 3_250_000_000n, '2026-03-09'],
      ['2026-03-20', 2_002_000n, '2026-03-19'],
    ];
    const groszOf = (text: string) => BigInt(text.replace(/[^\d-]/g, ''));
    const statement = dayLines.reduce(
      (sum, [, nano, rateDay]) => sum + groszOf(plnText(nano, nbp.table('A', rateDay)!.mid!)),
      0n,
    );

    // bypassCSP only lets the test inject axe-core; the page itself runs under the sidecar's CSP.
    const context = await env.browser.newContext({
      viewport: { width: 1200, height: 800 },
      bypassCSP: true,
      acceptDownloads: true,
    });
    const page = await context.newPage();
    await page.goto(`${env.sidecarUrl}/`);
    await page.getByLabel('Operator token (ADMIN_TOKEN)').fill('wrong-token-0123456789');
    await page.keyboard.press('Enter');
    await page.locator('mai-operator-page [role="alert"]').waitFor();
    expect(await textOf(page.locator('mai-operator-page [role="alert"]'))).toBe('invalid or expired token');

    await page.getByLabel('Operator token (ADMIN_TOKEN)').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    const rows = page.locator('mai-data-table[data-testid="billing"] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const defaultRow = await textOf(rows.filter({ hasText: 'Default organization' }));
    // March: raw 5 + 2.5 + 0.00154 = 7.50154 → $7.50; ×1.3 → $9.75; profit $2.25.
    expect(defaultRow).toBe(
      `Default organization 3 36,751 $7.50 ×1.3 $9.75 (${plnText(9_752_002_000n, ask)}) $2.25 ${groszText(statement)} no limit`,
    );
    expect(await textOf(rows.filter({ hasText: 'Acme' }))).toContain('×1.5');
    expect(await textOf(page.locator('mai-operator-page mai-rate-note [data-testid="nbp-rate"]'))).toContain(
      `1 USD = ${ask} PLN`,
    );

    // The statement's day lines, each at its own table A rate.
    const details = page.locator(`details[data-testid="statement-days"][data-org="${DEFAULT_ORG}"]`);
    expect(await page.locator('details[data-testid="statement-days"]').count()).toBe(1); // Acme has no usage
    await details.locator('summary').focus();
    await page.keyboard.press('Enter');
    const days = details.locator('mai-data-table tbody tr');
    await days.first().waitFor();
    expect(await days.count()).toBe(3);
    for (const [index, [date, nano, rateDay]] of dayLines.entries()) {
      const table = nbp.table('A', rateDay)!;
      expect(await textOf(days.nth(index))).toMatch(
        new RegExp(`^${date} .* ${escape(plnText(nano, table.mid!))} ${table.mid} \\(${table.no}, ${rateDay}\\)$`),
      );
    }

    // Reconciliation: March's drift only.
    expect(await textOf(page.locator('[data-testid="monthly-drift"]'))).toBe(
      'Drift in 2026-03 (OpenRouter − ledger raw cost): $0.10',
    );
    const drift = page.locator('mai-data-table[data-testid="reconciliation"] tbody tr');
    expect(await drift.count()).toBe(2);
    expect(await textOf(drift.first())).toBe('Default organization key_monthly 2026-03 $7.60 $7.50 $0.10');
    expect(await seriousA11yViolations(page, 'mai-operator-page')).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'operator-page.png'), fullPage: true });

    // CSV downloads of the same statement: RFC 4180 and Polish Excel.
    const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="csv"]').click()]);
    expect(csv.suggestedFilename()).toBe('mai-usage_billing_2026-03.csv');
    const text = readFileSync((await csv.path())!, 'utf8');
    const total = text.split('\r\n').find((line) => line.startsWith(`client_total,${DEFAULT_ORG},`))!;
    expect(total).toContain(`,${(statement / 100n).toString()}.${(statement % 100n).toString().padStart(2, '0')},`);
    const [pl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="csv-pl"]').click()]);
    expect(pl.suggestedFilename()).toBe('mai-usage_billing_2026-03_pl.csv');
    const plText = readFileSync((await pl.path())!, 'utf8');
    expect(plText.startsWith('\ufeffline;client_org_id;')).toBe(true);

    // Another month through the picker: February, with its own figures and no March drift.
    await page.locator('mai-operator-page input[type="month"]').fill('2026-02');
    await page.locator('mai-operator-page input[type="month"]').dispatchEvent('change');
    await page.waitForFunction(() =>
      document
        .querySelector('mai-operator-page')!
        .shadowRoot!.querySelector('mai-data-table[data-testid="billing"]')
        ?.getAttribute('caption')
        ?.includes('2026-02'),
    );
    await page.locator('[data-testid="monthly-drift"]', { hasText: '2026-02' }).waitFor();
    expect(await textOf(rows.filter({ hasText: 'Default organization' }))).toContain('$1.30');
    expect(await textOf(page.locator('[data-testid="monthly-drift"]'))).toBe(
      'Drift in 2026-02 (OpenRouter − ledger raw cost): $0.00',
    );
    const [feb] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="csv"]').click()]);
    expect(feb.suggestedFilename()).toBe('mai-usage_billing_2026-02.csv');

    await rows
      .filter({ hasText: 'Default organization' })
      .getByRole('button', { name: 'Default organization' })
      .click();
    await page.locator('mai-usage-dashboard mai-stat-card[data-card="month-total"]').waitFor();
    expect(await textOf(page.locator('mai-stat-card[data-card="month-total"] [data-testid="value"]'))).toBe(
      `$9.75 (${plnText(9_752_002_000n, ask)})`,
    );
    await context.close();
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
