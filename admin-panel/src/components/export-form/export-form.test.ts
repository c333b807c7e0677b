import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from '../../../test-support/browser.js';
import { openComponentPage, render, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-export-form>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
  });
  afterAll(async () => c?.close());

  it('emits mai-export with the chosen range and format, submitted from the keyboard', async () => {
    await render(c.page, `<mai-export-form from="2026-03-01" to="2026-03-20"></mai-export-form>`);
    await c.page.evaluate(() => {
      document.querySelector('mai-export-form')!.addEventListener('mai-export', (e) => {
        (window as unknown as { exported: unknown }).exported = (e as CustomEvent).detail;
      });
    });
    await c.page.locator('mai-export-form select[name="format"]').selectOption('json');
    await c.page.locator('mai-export-form input[name="from"]').fill('2026-02-01');
    await c.page.locator('mai-export-form input[name="to"]').press('Enter');
    expect(await c.page.evaluate(() => (window as unknown as { exported: unknown }).exported)).toEqual({
      from: '2026-02-01',
      to: '2026-03-20',
      format: 'json',
    });
    expect(await seriousA11yViolations(c.page, 'mai-export-form')).toEqual([]);
  });
});
