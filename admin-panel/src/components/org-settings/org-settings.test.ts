import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { NOW, seedEvents } from '../../../test-support/fixtures.js';
import { ADMIN_OWUI_TOKEN, mountElement, startPanelEnv, type PanelEnv } from '../../../test-support/panel-env.js';

describe('<mai-org-settings> managing an organization through the real API', () => {
  let env: PanelEnv;
  let orgId: string;

  beforeAll(async () => {
    env = await startPanelEnv({ now: NOW });
    await env.ingest(seedEvents);
    orgId = (await env.test.as(ADMIN_OWUI_TOKEN).get('/api/v1/client-organizations/usage/summary')).body.client_org_id;
  });

  afterAll(async () => {
    await env?.close();
  });

  it('saves the monthly limit and contact, sets the OpenRouter key (shown masked), manages mappings', async () => {
    const page = await env.openHostPage();
    await mountElement(page, 'mai-org-settings', {
      'api-base': env.sidecarUrl,
      token: ADMIN_OWUI_TOKEN,
      'org-id': orgId,
    });
    const orgForm = page.locator('form[data-form="org"]');
    await orgForm.waitFor();
    // An Open WebUI admin does not set the markup: the operator does.
    expect(await page.locator('input[name="markup_rate"]').count()).toBe(0);
    expect(await textOf(page.locator('[data-testid="key-label"]'))).toBe('not set');

    await orgForm.locator('input[name="monthly_limit_usd"]').fill('250');
    await orgForm.locator('input[name="billing_contact_email"]').fill('billing@acme.example');
    await orgForm.locator('button[type="submit"]').click();
    await page.locator('mai-org-settings .status').waitFor();
    const org = (await env.test.as(ADMIN_OWUI_TOKEN).get(`/api/v1/client-organizations/clients/${orgId}`)).body;
    expect(org.monthly_limit_usd).toBe(250);
    expect(org.billing_contact_email).toBe('billing@acme.example');

    const key = 'sk-or-v1-' + 'a'.repeat(40) + 'xyz';
    await page.locator('form[data-form="key"] input[name="openrouter_api_key"]').fill(key);
    await page.locator('form[data-form="key"] button[type="submit"]').click();
    await page.waitForFunction(
      () =>
        document.querySelector('mai-org-settings')!.shadowRoot!.querySelector('[data-testid="key-label"]')
          ?.textContent !== 'not set',
    );
    const label = await textOf(page.locator('[data-testid="key-label"]'));
    expect(label).not.toContain('a'.repeat(20));
    expect(label).toMatch(/^sk-or-v1-.*xyz$/);
    expect(await textOf(page.locator('form[data-form="key"] button[type="submit"]'))).toBe('Rotate key');

    const mapping = page.locator('form[data-form="mapping"]');
    await mapping.locator('input[name="user_id"]').fill('user-9');
    await mapping.locator('input[name="user_email"]').fill('nine@client.example');
    await mapping.locator('input[name="monthly_limit_usd"]').fill('15');
    await mapping.locator('button[type="submit"]').click();
    const row = page.locator('mai-data-table[data-testid="mappings"] tbody tr', { hasText: 'user-9' });
    await row.waitFor();
    expect(await textOf(row)).toContain('$15.00');
    expect(await seriousA11yViolations(page, 'mai-org-settings')).toEqual([]);

    await row.getByRole('button', { name: 'Remove: user-9' }).click();
    await row.waitFor({ state: 'detached' });
    const mappings = (await env.test.as(ADMIN_OWUI_TOKEN).get('/api/v1/client-organizations/user-mappings')).body
      .mappings;
    expect(mappings.map((m: { user_id: string }) => m.user_id)).not.toContain('user-9');
    await page.context().close();
  });
});
