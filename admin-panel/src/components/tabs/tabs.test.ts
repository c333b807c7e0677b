import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { openComponentPage, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-tabs>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
    await c.page.evaluate(async () => {
      const tabs = document.createElement('mai-tabs') as unknown as HTMLElement &
        Record<string, unknown> & { updateComplete: Promise<unknown> };
      tabs.label = 'Usage';
      tabs.tabs = [
        { id: 'a', label: 'Daily Trend' },
        { id: 'b', label: 'Usage Stats' },
        { id: 'c', label: 'By User' },
      ];
      tabs.selected = 'a';
      tabs.textContent = 'panel content';
      (window as unknown as { changes: string[] }).changes = [];
      tabs.addEventListener('mai-tab-change', (e) =>
        (window as unknown as { changes: string[] }).changes.push((e as CustomEvent<{ id: string }>).detail.id),
      );
      document.getElementById('root')!.replaceChildren(tabs);
      await tabs.updateComplete;
    });
  });
  afterAll(async () => c?.close());

  const selected = () => textOf(c.page.locator('mai-tabs [role="tab"][aria-selected="true"]'));
  const focused = () =>
    c.page.evaluate(() => document.querySelector('mai-tabs')!.shadowRoot!.activeElement?.textContent?.trim());

  it('follows the WAI-ARIA tabs pattern: one tab stop, arrows wrap, Home and End', async () => {
    expect(await c.page.locator('mai-tabs [role="tab"][tabindex="0"]').count()).toBe(1);
    await c.page.keyboard.press('Tab');
    expect(await focused()).toBe('Daily Trend');
    await c.page.keyboard.press('ArrowLeft');
    expect(await selected()).toBe('By User');
    expect(await focused()).toBe('By User');
    await c.page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('Daily Trend');
    await c.page.keyboard.press('End');
    expect(await selected()).toBe('By User');
    await c.page.keyboard.press('Home');
    expect(await selected()).toBe('Daily Trend');
    // Tab leaves the tablist for the panel.
    await c.page.keyboard.press('Tab');
    expect(
      await c.page.evaluate(() => document.querySelector('mai-tabs')!.shadowRoot!.activeElement?.getAttribute('role')),
    ).toBe('tabpanel');
    expect(await c.page.locator('mai-tabs [role="tabpanel"]').getAttribute('aria-labelledby')).toBe('tab-a');
    expect(await c.page.evaluate(() => (window as unknown as { changes: string[] }).changes)).toEqual([
      'c',
      'a',
      'c',
      'a',
    ]);
    expect(await seriousA11yViolations(c.page, 'mai-tabs')).toEqual([]);
  });
});
