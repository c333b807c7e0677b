/**
 * Known usage for the panel tests, on the billing clock 2026-03-20 13:00 Warsaw. Costs are
 * provider costs; the default markup is 1.3, so 0.00154 USD is billed $0.002002 (the seeds'
 * example) and 1751 tokens today (also the seeds').
 */
import { completionEvent } from '../../sidecar/src/test-support/harness.js';

export const NOW = '2026-03-20T12:00:00Z';

export const seedEvents = [
  // today, user-1: the seeds' 1,751 tokens for $0.002002
  completionEvent({
    event_id: 'gen-today-1',
    occurred_at: '2026-03-20T09:00:00Z',
    model: 'openai/gpt-4o-mini',
    usage: { input_tokens: 1000, output_tokens: 751, cost_usd: 0.00154 },
  }),
  // earlier this month
  completionEvent({
    event_id: 'gen-mar-05',
    occurred_at: '2026-03-05T10:00:00Z',
    user: { id: 'user-2', email: 'user2@client.example', name: 'Otto Other', role: 'user' },
    model: 'anthropic/claude-sonnet-4',
    usage: { input_tokens: 20000, output_tokens: 10000, cost_usd: 5 },
  }),
  completionEvent({
    event_id: 'gen-mar-10',
    occurred_at: '2026-03-10T10:00:00Z',
    model: 'openai/gpt-4o-mini',
    usage: { input_tokens: 3000, output_tokens: 2000, cost_usd: 2.5 },
  }),
  // last month, inside the 30-day trend
  completionEvent({
    event_id: 'gen-feb-25',
    occurred_at: '2026-02-25T10:00:00Z',
    model: 'openai/gpt-4o-mini',
    usage: { input_tokens: 100, output_tokens: 100, cost_usd: 1 },
  }),
];

/** What the panel must show for the seed, computed by hand. */
export const expected = {
  todayTokens: '1,751',
  todayCost: '$0.002002',
  // 6.5 + 3.25 + 0.002002
  monthTotal: '$9.75',
  // 9.752002 / 20 days
  dailyAverage: '$0.49',
  monthTokens: '36,751',
};

/**
 * nano-USD × an NBP rate (four-decimal text) → "35,40 zł" (spaces plain), rounded once to the
 * grosz half away from zero: worked out here, independently of the sidecar's pln.ts.
 */
export function plnText(nano: bigint, rate: string): string {
  const [whole, fraction = ''] = rate.split('.');
  const product = nano * BigInt(whole! + fraction.padEnd(4, '0')) * 100n; // × 1e-9 USD × 1e-4 PLN/USD × 100 gr
  const divisor = 10n ** 13n;
  const abs = ((product < 0n ? -product : product) * 2n + divisor) / (2n * divisor);
  const grosz = product < 0n ? -abs : abs;
  return groszText(grosz);
}

/** Grosz as the panel writes PLN, with plain spaces: "1 234,50 zł". */
export function groszText(grosz: bigint): string {
  const abs = grosz < 0n ? -grosz : grosz;
  const whole = (abs / 100n).toString();
  const grouped = whole.length > 4 ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ' ') : whole;
  return `${grosz < 0n ? '-' : ''}${grouped},${(abs % 100n).toString().padStart(2, '0')} zł`;
}
