import { describe, expect, it } from 'vitest';
import {
  applyMarkup,
  divRound,
  formatMarkupRate,
  formatScaled,
  integerText,
  nanoToUsdNumber,
  nanoToUsdString,
  nanoValueToUsdNumber,
  parseMarkupRate,
  parseScaled,
  toBigInt,
  usdToNano,
} from './money.js';

describe('usdToNano', () => {
  it.each<[number | string, bigint]>([
    [0, 0n],
    ['0', 0n],
    [0.1, 100_000_000n],
    ['0.003224', 3_224_000n],
    [0.003224, 3_224_000n],
    ['12.345678901', 12_345_678_901n],
    ['5.', 5_000_000_000n],
    ['+3', 3_000_000_000n],
    ['  0.5 ', 500_000_000n],
    // Scientific notation, as JSON numbers print and as text.
    [1e-9, 1n],
    [1e-7, 100n],
    ['1E3', 1_000_000_000_000n],
    ['1e+2', 100_000_000_000n],
    ['2.5e-6', 2_500n],
    [1e21, 1_000_000_000_000_000_000_000_000_000_000n],
    // Rounding half away from zero at the nano-USD.
    ['0.0000000005', 1n],
    ['0.00000000049999', 0n],
    ['1.5e-9', 2n],
    ['2.5e-9', 3n],
    ['2.5e-10', 0n],
    ['-0.0000000005', -1n],
    ['-1.5e-9', -2n],
    ['-0.0000000004', 0n],
    // Negative amounts (corrections).
    ['-0.002', -2_000_000n],
    [-0.002, -2_000_000n],
  ])('%s USD → %s nano', (value, nano) => {
    expect(usdToNano(value)).toBe(nano);
  });

  it.each<number | string>(['', 'abc', '1.2.3', '.5', '1e', '0x10', '1,5', NaN, Infinity, -Infinity])(
    'rejects %s',
    (value) => {
      expect(usdToNano(value)).toBeUndefined();
    },
  );

  it('scales to any unit', () => {
    expect(parseScaled('1.2345675', 6)).toBe(1_234_568n);
    expect(parseScaled('-1.2345675', 6)).toBe(-1_234_568n);
    expect(parseScaled('1.2345674', 6)).toBe(1_234_567n);
  });
});

describe('divRound', () => {
  it('rounds half away from zero in every sign combination', () => {
    expect(divRound(5n, 2n)).toBe(3n);
    expect(divRound(-5n, 2n)).toBe(-3n);
    expect(divRound(5n, -2n)).toBe(-3n);
    expect(divRound(-5n, -2n)).toBe(3n);
    expect(divRound(4n, 3n)).toBe(1n);
    expect(divRound(-4n, 3n)).toBe(-1n);
    expect(divRound(0n, 7n)).toBe(0n);
  });

  it('refuses to divide by zero', () => {
    expect(() => divRound(1n, 0n)).toThrow(RangeError);
  });
});

describe('markup', () => {
  it.each<[number | string, bigint]>([
    ['1.3', 1_300_000n],
    [1.3, 1_300_000n],
    ['1', 1_000_000n],
    ['0.5', 500_000n],
    ['1.234567', 1_234_567n],
    ['1000', 1_000_000_000n],
    [' 2 ', 2_000_000n],
  ])('parses %s as %s ppm', (value, ppm) => {
    expect(parseMarkupRate(value)).toBe(ppm);
  });

  it.each<number | string>(['0', '0.000000', '-1', '1.2345678', '1000.000001', '1e2', '', 'abc', '1.', NaN])(
    'rejects markup %s',
    (value) => {
      expect(parseMarkupRate(value)).toBeUndefined();
    },
  );

  it('formats a rate back to its shortest decimal', () => {
    expect(formatMarkupRate(1_300_000n)).toBe('1.3');
    expect(formatMarkupRate(1_000_000n)).toBe('1');
    expect(formatMarkupRate(1_234_567n)).toBe('1.234567');
  });

  it('bills raw × markup rounded half away from zero to the nano-USD', () => {
    expect(applyMarkup(1n, 1_300_000n)).toBe(1n); // 1.3
    expect(applyMarkup(5n, 1_300_000n)).toBe(7n); // 6.5
    expect(applyMarkup(-5n, 1_300_000n)).toBe(-7n); // -6.5
    expect(applyMarkup(3_224_000n, 1_300_000n)).toBe(4_191_200n);
    expect(applyMarkup(999n, 1_234_567n)).toBe(1_233n); // 1233.332433
    expect(applyMarkup(0n, 1_300_000n)).toBe(0n);
  });
});

describe('formatting', () => {
  it.each<[bigint, string]>([
    [0n, '0'],
    [1n, '0.000000001'],
    [-1n, '-0.000000001'],
    [1_540_000n, '0.00154'],
    [1_000_000_000n, '1'],
    [12_345_678_901n, '12.345678901'],
    [-2_000_000n, '-0.002'],
    [123_456_789_000_000_000n, '123456789'],
  ])('%s nano is %s USD', (nano, text) => {
    expect(nanoToUsdString(nano)).toBe(text);
    // Text round-trips through parsing exactly.
    expect(usdToNano(text)).toBe(nano);
  });

  it('gives the JSON number whose text is the exact decimal', () => {
    expect(nanoToUsdNumber(1_540_000n)).toBe(0.00154);
    expect(String(nanoToUsdNumber(4_191_200n))).toBe('0.0041912');
    expect(nanoToUsdNumber(-1n)).toBe(-1e-9);
    expect(formatScaled(5n, 2)).toBe('0.05');
  });

  it('gives the same number and text from a database integer, number or text', () => {
    const edges = [0, 1, -1, 7, 999_999_999, 1_000_000_001, -1_540_000, 4_191_200, 2 ** 53 - 1, -(2 ** 53 - 1)];
    // Integers of every magnitude up to 2^53, either sign, from a fixed-seed generator.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const randomInteger = () => Math.trunc((random() - 0.5) * 2 * 10 ** (random() * 15.95)) + 0; // + 0: never -0
    const values = [...edges, ...Array.from({ length: 20_000 }, randomInteger)];
    for (const value of values) {
      const exact = nanoToUsdNumber(BigInt(value));
      expect(nanoValueToUsdNumber(value), String(value)).toBe(exact);
      expect(nanoValueToUsdNumber(String(value))).toBe(exact);
      expect(integerText(value)).toBe(BigInt(value).toString());
    }
    // Beyond 2^53 (PostgreSQL's bigint text) the exact path is taken.
    expect(nanoValueToUsdNumber('123456789012345678901')).toBe(nanoToUsdNumber(123_456_789_012_345_678_901n));
    expect(integerText('123456789012345678901')).toBe('123456789012345678901');
    expect(() => integerText(1.5)).toThrow(RangeError);
  });
});

describe('toBigInt (database integers)', () => {
  it('reads numbers, decimal text and bigints', () => {
    expect(toBigInt(5)).toBe(5n);
    expect(toBigInt('123456789012345678901')).toBe(123_456_789_012_345_678_901n);
    expect(toBigInt('-4')).toBe(-4n);
    expect(toBigInt(7n)).toBe(7n);
    expect(toBigInt(null)).toBe(0n);
  });

  it('refuses values that would lose precision or are not integers', () => {
    expect(() => toBigInt(2 ** 53)).toThrow(RangeError);
    expect(() => toBigInt(1.5)).toThrow(RangeError);
    expect(() => toBigInt('1.5')).toThrow(TypeError);
    expect(() => toBigInt('x')).toThrow(TypeError);
  });
});
