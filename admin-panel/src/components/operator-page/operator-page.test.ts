import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { REPO_ROOT } from '../../../test-support/build.js';
import { NOW, seedEvents } from '../../../test-support/fixtures.js';
import { ADMIN_TOKEN, startPanelEnv, type PanelEnv } from '../../../test-support/panel-env.js';

const ARTIFACTS = join(REPO_ROOT, 'test-results', 'admin-panel');

describe("the operator's page on the sidecar (/), in Chromium", () => {
  let env: PanelEnv;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await startPanelEnv({ now: NOW });
    await env.ingest(seedEvents);
    await env.test
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/clients')
      .send({ name: 'Acme Sp. z o.o.', markup_rate: 1.5 });
  });

  afterAll(async () => {
    await env?.close();
  });

  it('signs in with ADMIN_TOKEN and lists every organization with raw cost, markup and profit', async () => {
    // bypassCSP only lets the test inject axe-core; the page itself runs under the sidecar's CSP.
    const context = await env.browser.newContext({ viewport: { width: 1200, height: 800 }, bypassCSP: true });
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
    expect(defaultRow).toBe('Default organization 3 36,751 $7.50 ×1.3 $9.75 $2.25 no limit');
    expect(await textOf(rows.filter({ hasText: 'Acme' }))).toContain('×1.5');
    expect(await seriousA11yViolations(page, 'mai-operator-page')).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'operator-page.png'), fullPage: true });

    await rows
      .filter({ hasText: 'Default organization' })
      .getByRole('button', { name: 'Default organization' })
      .click();
    await page.locator('mai-usage-dashboard mai-stat-card[data-card="month-total"]').waitFor();
    expect(await textOf(page.locator('mai-stat-card[data-card="month-total"] [data-testid="value"]'))).toBe('$9.75');
    await context.close();
  });
});
