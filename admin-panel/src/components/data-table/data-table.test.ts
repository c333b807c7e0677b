import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { openComponentPage, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-data-table>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
    await c.page.evaluate(async () => {
      const table = document.createElement('mai-data-table') as unknown as HTMLElement &
        Record<string, unknown> & { updateComplete: Promise<unknown> };
      table.caption = 'Models';
      table.columns = [
        {
          key: 'name',
          label: 'Model',
          value: (r: { name: string }) => r.name,
          sortValue: (r: { name: string }) => r.name,
        },
        {
          key: 'cost',
          label: 'Cost',
          numeric: true,
          value: (r: { cost: number }) => `$${r.cost}`,
          sortValue: (r: { cost: number }) => r.cost,
        },
      ];
      table.rows = [
        { name: 'b-model', cost: 2 },
        { name: 'a-model', cost: 10 },
        { name: 'c-model', cost: 5 },
      ];
      (window as unknown as { sorts: unknown[] }).sorts = [];
      table.addEventListener('mai-sort', (e) =>
        (window as unknown as { sorts: unknown[] }).sorts.push((e as CustomEvent).detail),
      );
      document.getElementById('root')!.replaceChildren(table);
      await table.updateComplete;
    });
  });
  afterAll(async () => c?.close());

  const names = async () => (await c.page.locator('mai-data-table tbody tr td:first-child').allInnerTexts()).join(',');

  it('keeps the given order until a header is used, then sorts with the keyboard', async () => {
    expect(await names()).toBe('b-model,a-model,c-model');
    await c.page.locator('mai-data-table th button', { hasText: 'Cost' }).focus();
    await c.page.keyboard.press('Enter');
    expect(await names()).toBe('a-model,c-model,b-model');
    expect(await c.page.locator('mai-data-table th[aria-sort="descending"]').count()).toBe(1);
    await c.page.keyboard.press('Space');
    expect(await names()).toBe('b-model,c-model,a-model');
    await c.page.keyboard.press('Shift+Tab');
    await c.page.keyboard.press('Enter');
    expect(await names()).toBe('a-model,b-model,c-model');
    expect(await textOf(c.page.locator('mai-data-table th[aria-sort="ascending"]'))).toBe('Model ▲');
    expect(await c.page.evaluate(() => (window as unknown as { sorts: unknown[] }).sorts)).toEqual([
      { key: 'cost', direction: 'descending' },
      { key: 'cost', direction: 'ascending' },
      { key: 'name', direction: 'ascending' },
    ]);
    expect(await seriousA11yViolations(c.page, 'mai-data-table')).toEqual([]);
  });
});
