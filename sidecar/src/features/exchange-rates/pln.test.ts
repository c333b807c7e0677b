import { describe, expect, it } from 'vitest';
import {
  convertToPln,
  exchangeRateInfo,
  formatPln,
  formatPlnPolish,
  formatRate,
  plnFields,
  type ExchangeRate,
} from './pln.js';

// Every expected figure is worked out by hand in the comment beside it.
describe('convertToPln', () => {
  it('converts nano-USD at an NBP rate to the grosz, exactly', () => {
    // $12.50 × 4.0000 = 50.00 zł = 5000 gr (the seeds' example)
    expect(convertToPln(12_500_000_000n, '4.0000')).toBe(5000n);
    // $100 × 3.9876 = 398.76 zł
    expect(convertToPln(100_000_000_000n, '3.9876')).toBe(39_876n);
    // $123,456.789012345 × 3.7675 = 465,123.4526040097875 zł → 465,123.45 zł
    expect(convertToPln(123_456_789_012_345n, '3.7675')).toBe(46_512_345n);
    // $1,234.56789 × 3.9512 = 4,878.024646968 zł → 4,878.02 zł
    expect(convertToPln(1_234_567_890_000n, '3.9512')).toBe(487_802n);
  });

  it('rounds half away from zero, once', () => {
    // $1 × 3.7675 = 3.7675 zł = 376.75 gr → 377 gr
    expect(convertToPln(1_000_000_000n, '3.7675')).toBe(377n);
    // $0.00125 × 4 = 0.005 zł = 0.5 gr → 1 gr; and −0.5 gr → −1 gr
    expect(convertToPln(1_250_000n, '4.0000')).toBe(1n);
    expect(convertToPln(-1_250_000n, '4.0000')).toBe(-1n);
    // $0.003224 × 3.9876 = 0.0128560224 zł = 1.29 gr → 1 gr; $0.00124 × 4 = 0.496 gr → 0
    expect(convertToPln(3_224_000n, '3.9876')).toBe(1n);
    expect(convertToPln(1_240_000n, '4.0000')).toBe(0n);
  });

  it('refuses something that is not a rate', () => {
    expect(() => convertToPln(1n, 'abc')).toThrow(RangeError);
    expect(() => convertToPln(1n, '0')).toThrow(RangeError);
  });
});

describe('formatting', () => {
  it('writes grosz as złoty', () => {
    expect(formatPln(5000n)).toBe('50.00');
    expect(formatPln(7n)).toBe('0.07');
    expect(formatPln(-1n)).toBe('-0.01');
    expect(formatPln(46_512_345n)).toBe('465123.45');
  });

  it('writes Polish notation as pl-PL does', () => {
    expect(formatPlnPolish(5000n)).toBe('50,00\u00a0zł');
    expect(formatPlnPolish(123_450n)).toBe('1234,50\u00a0zł');
    expect(formatPlnPolish(46_512_345n)).toBe('465\u00a0123,45\u00a0zł');
    expect(formatPlnPolish(-1n)).toBe('-0,01\u00a0zł');
    // The same as Intl, which groups from five integer digits on.
    const intl = new Intl.NumberFormat('pl-PL', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    expect(formatPlnPolish(46_512_345n)).toBe(`${intl.format(465123.45)}\u00a0zł`);
    expect(formatPlnPolish(123_450n)).toBe(`${intl.format(1234.5)}\u00a0zł`);
  });

  it('writes rates with four decimals', () => {
    expect(formatRate('4')).toBe('4.0000');
    expect(formatRate('3.7675')).toBe('3.7675');
  });
});

describe('response fields', () => {
  const rate: ExchangeRate = {
    usdPln: '4.0000',
    effectiveDate: '2025-07-25',
    tableNo: '143/C/NBP/2025',
    source: 'NBP Table C',
  };

  it('gives the seeds’ fields, numbers exact to the grosz', () => {
    expect(plnFields(12_500_000_000n, rate)).toEqual({
      cost_pln: 50,
      exchange_rate: 4,
      exchange_rate_date: '2025-07-25',
    });
    expect(plnFields(250_000_000_000n, { ...rate, usdPln: '3.7675' })).toEqual({
      cost_pln: 941.88, // 250 × 3.7675 = 941.875 → 941.88
      exchange_rate: 3.7675,
      exchange_rate_date: '2025-07-25',
    });
    expect(exchangeRateInfo(rate)).toEqual({
      pln_available: true,
      usd_pln: 4,
      effective_date: '2025-07-25',
      table_no: '143/C/NBP/2025',
      source: 'NBP Table C',
    });
  });

  it('answers USD-only with a flag when no rate is available', () => {
    expect(plnFields(12_500_000_000n, null)).toEqual({ cost_pln: null, exchange_rate: null, exchange_rate_date: null });
    expect(exchangeRateInfo(null)).toMatchObject({
      pln_available: false,
      usd_pln: null,
      message: 'PLN conversion temporarily unavailable',
    });
  });
});
