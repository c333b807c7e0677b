import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { openComponentPage, render, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-rate-note>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
  });
  afterAll(async () => c?.close());

  it('names the NBP rate, table and date, or says PLN is unavailable', async () => {
    await render(c.page, `<mai-rate-note></mai-rate-note>`);
    expect(await textOf(c.page.locator('mai-rate-note span'))).toBe('PLN conversion temporarily unavailable');
    expect(await seriousA11yViolations(c.page, 'mai-rate-note')).toEqual([]);
    await c.page.evaluate(async () => {
      const note = document.querySelector('mai-rate-note') as HTMLElement & {
        rate: unknown;
        updateComplete: Promise<unknown>;
      };
      note.rate = { rate: 3.9876, date: '2026-03-19', table: '054/C/NBP/2026' };
      await note.updateComplete;
    });
    expect(await textOf(c.page.locator('mai-rate-note span'))).toBe(
      'NBP rate: 1 USD = 3.9876 PLN (054/C/NBP/2026), as of 2026-03-19',
    );
    await c.page.evaluate(async () => {
      const note = document.querySelector('mai-rate-note') as HTMLElement & {
        rate: unknown;
        updateComplete: Promise<unknown>;
      };
      note.rate = { rate: 3.9876, date: '2026-03-19', table: '054/C/NBP/2026', stale: true };
      await note.updateComplete;
    });
    expect(await textOf(c.page.locator('mai-rate-note [data-testid="rate-stale"]'))).toBe(
      '(last stored rate: NBP could not be reached just now)',
    );
  });
});
