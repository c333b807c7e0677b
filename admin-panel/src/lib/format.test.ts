import { describe, expect, it } from 'vitest';
import { formatCount, formatPln, formatUsdNano, formatUsdWithPln } from './format.js';

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
  it('groups token counts', () => {
    expect(formatCount(1751, 'en')).toBe('1,751');
    expect(plain(formatCount(1751, 'pl'))).toBe('1 751');
  });
});
