import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { openComponentPage, render, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-limit-banner>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
  });
  afterAll(async () => c?.close());

  it('is silent below 80%, warns from 80%, alerts at 100%', async () => {
    await render(c.page, `<mai-limit-banner used-pct="79.99" limit-usd="100"></mai-limit-banner>`);
    expect(await c.page.locator('mai-limit-banner [role="alert"]').count()).toBe(0);
    await render(c.page, `<mai-limit-banner used-pct="80" limit-usd="100"></mai-limit-banner>`);
    expect(await c.page.locator('mai-limit-banner [role="alert"]').getAttribute('data-level')).toBe('warning');
    expect(await textOf(c.page.locator('mai-limit-banner [role="alert"]'))).toContain(
      'This organization has used 80% of its monthly limit ($100.00).',
    );
    expect(await seriousA11yViolations(c.page, 'mai-limit-banner')).toEqual([]);
    await render(c.page, `<mai-limit-banner used-pct="100.4" limit-usd="100" lang="pl"></mai-limit-banner>`);
    expect(await c.page.locator('mai-limit-banner [role="alert"]').getAttribute('data-level')).toBe('reached');
    expect(await textOf(c.page.locator('mai-limit-banner [role="alert"]'))).toContain(
      'osiągnęła miesięczny limit ($100.00)',
    );
    expect(await seriousA11yViolations(c.page, 'mai-limit-banner')).toEqual([]);
  });
});
