/**
 * Money is integer nano-USD (1 USD = 1e9 nano-USD) held as bigint. Decimal text in, decimal text
 * out; a float never takes part in arithmetic.
 *
 * Rounding rule (one for the whole product): when a value has more precision than its unit, it
 * is rounded half away from zero. Provider costs are rounded to the nano-USD once, at ingest;
 * billed cost = raw cost × markup is rounded to the nano-USD per event; every total is a sum of
 * those per-event integers, so per-user, per-model and per-org totals add up exactly.
 */

export const NANO_PER_USD = 1_000_000_000n;
export const PPM = 1_000_000n;

const DECIMAL = /^([+-])?(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/** Divides rounding half away from zero. */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const quotient = (n + d / 2n) / d;
  return negative ? -quotient : quotient;
}

/**
 * Parses a decimal (a JSON number or its text, scientific notation allowed) into an integer
 * count of 10^-scale units, rounding half away from zero. Returns undefined for anything that
 * is not a finite decimal.
 */
export function parseScaled(value: number | string, scale: number): bigint | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  // String(number) is the shortest text that round-trips, i.e. the decimal the sender wrote.
  const match = DECIMAL.exec(String(value).trim());
  if (!match) return undefined;
  const [, sign, whole = '0', fraction = '', exponent = '0'] = match;
  const digits = BigInt(whole + fraction);
  const shift = scale - fraction.length + Number(exponent);
  const scaled = shift >= 0 ? digits * 10n ** BigInt(shift) : divRound(digits, 10n ** BigInt(-shift));
  return sign === '-' ? -scaled : scaled;
}

/** USD (JSON number or decimal text) → nano-USD. */
export function usdToNano(value: number | string): bigint | undefined {
  return parseScaled(value, 9);
}

/** Exact decimal text of a scaled integer, without trailing zeros: 1540000n, 9 → "0.00154". */
export function formatScaled(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

export function nanoToUsdString(nano: bigint): string {
  return formatScaled(nano, 9);
}

/**
 * For the seeds' JSON number fields: the number whose shortest text is the exact decimal, as
 * long as it has at most 15 significant digits (always true below $1,000,000 at 9 decimals);
 * the `*_nano_usd` string beside it is the exact figure in every case.
 */
export function nanoToUsdNumber(nano: bigint): number {
  return Number(nanoToUsdString(nano));
}

/**
 * nanoToUsdNumber of a database integer, for the export's thousands of rows. A safe integer (as
 * SQLite hands them over) is divided as a double, which gives the very same number without a
 * BigInt and a string per row: the quotient and the parse of the exact decimal are both the
 * double nearest to n / 10^9. Anything else takes the exact path.
 */
export function nanoValueToUsdNumber(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value / 1e9 : nanoToUsdNumber(toBigInt(value));
}

/** A database integer as decimal text; a safe integer is printed as it is, without a BigInt. */
export function integerText(value: unknown): string {
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : toBigInt(value).toString();
}

/** A markup rate such as "1.3" → parts per million (1300000n); at most 6 decimals, 0 < rate ≤ 1000. */
export function parseMarkupRate(value: number | string): bigint | undefined {
  const text = String(value).trim();
  if (!/^\d+(\.\d{1,6})?$/.test(text)) return undefined;
  const ppm = parseScaled(text, 6);
  if (ppm === undefined || ppm <= 0n || ppm > 1000n * PPM) return undefined;
  return ppm;
}

export function formatMarkupRate(ppm: bigint): string {
  return formatScaled(ppm, 6);
}

/** billed = raw × markup, rounded half away from zero to the nano-USD. */
export function applyMarkup(rawNano: bigint, markupPpm: bigint): bigint {
  return divRound(rawNano * markupPpm, PPM);
}

/** Reads an integer column: PostgreSQL returns bigint as text, SQLite as a number. */
export function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`unsafe integer from database: ${value}`);
    return BigInt(value);
  }
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  if (value === null || value === undefined) return 0n;
  throw new TypeError(`not an integer: ${String(value)}`);
}
