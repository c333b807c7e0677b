import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from '../../../test-support/browser.js';
import { openComponentPage, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-trend-chart>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
  });
  afterAll(async () => c?.close());

  it('draws one bar per day scaled to a nice axis, with the figures available as a table', async () => {
    await c.page.evaluate(async () => {
      const chart = document.createElement('mai-trend-chart') as HTMLElement & {
        days: unknown[];
        today: string;
        updateComplete: Promise<unknown>;
      };
      chart.days = Array.from({ length: 30 }, (_, i) => {
        const day = String(i + 1).padStart(2, '0');
        const nano = i === 9 ? '3000000000' : i === 19 ? '1500000000' : '0';
        return {
          date: `2026-04-${day}`,
          requests: nano === '0' ? 0 : 1,
          tokens: nano === '0' ? 0 : 1751,
          cost: Number(nano) / 1e9,
          cost_nano_usd: nano,
        };
      });
      chart.today = '2026-04-30';
      document.getElementById('root')!.replaceChildren(chart);
      await chart.updateComplete;
    });
    const bars = c.page.locator('mai-trend-chart rect.bar');
    expect(await bars.count()).toBe(30);
    const h = async (date: string) =>
      Number(await c.page.locator(`mai-trend-chart rect[data-date="${date}"]`).getAttribute('height'));
    expect((await h('2026-04-10')) / (await h('2026-04-20'))).toBeCloseTo(2, 5);
    // $3.00 max → axis to $5.00
    expect(await c.page.locator('mai-trend-chart .axis text').nth(2).textContent()).toBe('$5.00');
    expect(await c.page.locator('mai-trend-chart rect[data-date="2026-04-10"] title').textContent()).toBe(
      '2026-04-10: $3.00, 1,751 tokens',
    );
    expect(await c.page.locator('mai-trend-chart rect.bar.today').getAttribute('data-date')).toBe('2026-04-30');
    await c.page.locator('mai-trend-chart summary').click();
    expect(await c.page.locator('mai-trend-chart tbody tr').count()).toBe(30);
    expect(await seriousA11yViolations(c.page, 'mai-trend-chart')).toEqual([]);
  });
});
