import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations, textOf } from '../../../test-support/browser.js';
import { openComponentPage, render, type ComponentPage } from '../../../test-support/component-page.js';

describe('<mai-stat-card>', () => {
  let c: ComponentPage;
  beforeAll(async () => {
    c = await openComponentPage();
  });
  afterAll(async () => c?.close());

  it('shows label, value and detail; live adds the pulsing dot and a spoken "Live"', async () => {
    await render(
      c.page,
      `<mai-stat-card live label="Today's Cost" value="$0.002002" detail="incl. markup"></mai-stat-card>`,
    );
    expect(await textOf(c.page.locator('mai-stat-card h3'))).toBe("Live: Today's Cost");
    expect(await textOf(c.page.locator('mai-stat-card [data-testid="value"]'))).toBe('$0.002002');
    expect(await c.page.locator('mai-stat-card .dot').count()).toBe(1);
    const animation = await c.page.evaluate(
      () => getComputedStyle(document.querySelector('mai-stat-card')!.shadowRoot!.querySelector('.dot')!).animationName,
    );
    expect(animation).toBe('pulse');
    expect(await seriousA11yViolations(c.page, 'mai-stat-card')).toEqual([]);
  });

  it('has no dot when not live', async () => {
    await render(c.page, `<mai-stat-card label="Month Total" value="$9.75"></mai-stat-card>`);
    expect(await c.page.locator('mai-stat-card .dot').count()).toBe(0);
  });
});
