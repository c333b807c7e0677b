import { describe, expect, it } from 'vitest';
import { formatCount, formatPln, formatUsdNano, formatUsdWithPln } from './format.js';
import { plnOf, rateOf } from './pln.js';

const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');

describe('money formatting from exact nano-USD', () => {
  it('shows six decimals below one cent, as the seeds do', () => {
    expect(formatUsdNano('2002000')).toBe('$0.002002');
    expect(formatUsdNano('9999999')).toBe('$0.010000');
    expect(formatUsdNano('1')).toBe('$0.000000');
    expect(formatUsdNano('1540')).toBe('$0.000002');
  });
  it('rounds half up to cents with thousands separators from one cent', () => {
    expect(formatUsdNano('10000000')).toBe('$0.01');
    expect(formatUsdNano('12500000000')).toBe('$12.50');
    expect(formatUsdNano('1234567895000000')).toBe('$1,234,567.90');
    expect(formatUsdNano('0')).toBe('$0.00');
    expect(formatUsdNano(-3_250_000_000n)).toBe('-$3.25');
    // A float sum would drift; BigInt never does.
    expect(formatUsdNano((300_000_000n + 300_000_000n + 300_000_000n).toString())).toBe('$0.90');
  });
  it('renders garbage as a dash', () => {
    expect(formatUsdNano('abc')).toBe('—');
    expect(formatUsdNano(undefined)).toBe('—');
  });
  it('writes PLN the Polish way beside USD', () => {
    expect(plain(formatUsdWithPln('12500000000', 50))).toBe('$12.50 (50,00 zł)');
    expect(plain(formatPln(1234.5))).toBe('1234,50 zł');
    expect(plain(formatPln(12345.5))).toBe('12 345,50 zł');
    expect(formatUsdWithPln('12500000000', undefined)).toBe('$12.50');
  });
  it('shows PLN from the exact grosz string, never through a float', () => {
    expect(plnOf({ cost_pln: 50.15, cost_pln_grosz: '5015' })).toBe('50.15');
    expect(plnOf({ cost_pln: -0.05, cost_pln_grosz: '-5' })).toBe('-0.05');
    expect(plnOf({ cost_pln: null, cost_pln_grosz: null })).toBeUndefined();
    expect(plnOf({ cost_pln: 1.5 })).toBe(1.5);
    expect(plain(formatUsdWithPln('12500000000', plnOf({ cost_pln_grosz: '5000' })))).toBe('$12.50 (50,00 zł)');
    // 2^53 + 1 grosz: a number would lose the last digit.
    expect(plain(formatPln(plnOf({ cost_pln_grosz: '9007199254740993' })))).toBe('90 071 992 547 409,93 zł');
    expect(formatPln('not a number')).toBe('—');
  });
  it('finds the NBP rate in exchange_rate_info, and none when PLN is unavailable', () => {
    const info = {
      pln_available: true,
      usd_pln: 4.0123,
      effective_date: '2026-11-20',
      table_no: '226/C/NBP/2026',
      source: 'NBP Table C',
      stale: false,
    };
    expect(rateOf({ exchange_rate: 4.0123, exchange_rate_date: '2026-11-20' }, { exchange_rate_info: info })).toEqual({
      rate: 4.0123,
      date: '2026-11-20',
      table: '226/C/NBP/2026',
      source: 'NBP Table C',
      stale: false,
    });
    expect(
      rateOf(
        {
          exchange_rate_info: {
            pln_available: false,
            usd_pln: null,
            message: 'PLN conversion temporarily unavailable',
          },
        },
        { exchange_rate: null },
      ),
    ).toBeNull();
  });
  it('groups token counts', () => {
    expect(formatCount(1751, 'en')).toBe('1,751');
    expect(plain(formatCount(1751, 'pl'))).toBe('1 751');
  });
});
