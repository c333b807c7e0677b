import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { NOW, seedEvents } from '../../../test-support/fixtures.js';
import {
  ADMIN_OWUI_TOKEN,
  ADMIN_TOKEN,
  mountElement,
  startPanelEnv,
  type PanelEnv,
} from '../../../test-support/panel-env.js';

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

  it('makes the markup editable for the admin once the operator allows it (admin_may_set_markup)', async () => {
    await env.test
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/settings')
      .send({ admin_may_set_markup: true })
      .expect(200);
    const page = await env.openHostPage();
    await mountElement(page, 'mai-org-settings', {
      'api-base': env.sidecarUrl,
      token: ADMIN_OWUI_TOKEN,
      'org-id': orgId,
    });
    const markup = page.getByLabel('Markup');
    await markup.waitFor();
    expect(await markup.inputValue()).toBe('1.3');
    // Keyboard only: focus the field, type the new markup, submit with Enter.
    await markup.focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('1.45');
    await page.keyboard.press('Enter');
    await page.locator('mai-org-settings .status').waitFor();
    const asOperator = (await env.test.as(ADMIN_TOKEN).get(`/api/v1/client-organizations/clients/${orgId}`)).body;
    expect(asOperator.markup_rate).toBe(1.45);
    expect(await page.getByLabel('Markup').inputValue()).toBe('1.45');
    expect(await seriousA11yViolations(page, 'mai-org-settings')).toEqual([]);

    // Switched off while the form is open: saving the limit still works (an unchanged markup is
    // not resent), and after the save the markup is read-only.
    await env.test
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/settings')
      .send({ admin_may_set_markup: false })
      .expect(200);
    await page.locator('mai-org-settings .status').evaluate((el) => el.remove());
    await page.locator('form[data-form="org"] input[name="monthly_limit_usd"]').fill('300');
    await page.locator('form[data-form="org"] button[type="submit"]').click();
    await page.locator('mai-org-settings .status').waitFor();
    expect((await env.test.as(ADMIN_TOKEN).get(`/api/v1/client-organizations/clients/${orgId}`)).body).toMatchObject({
      monthly_limit_usd: 300,
      markup_rate: 1.45,
    });
    await page.locator('form[data-form="org"] p.muted').waitFor();
    expect(await page.locator('input[name="markup_rate"]').count()).toBe(0);
    expect(await textOf(page.locator('form[data-form="org"] p.muted'))).toBe('Markup: Set by your provider');
    await page.context().close();
  });
});
