import { NANO_PER_USD, divRound, formatScaled, parseScaled } from '../../lib/money.js';

/**
 * USD → PLN. Amounts are integer grosz (1 PLN = 100 gr), converted exactly from nano-USD and an
 * NBP rate held as decimal text, rounded once, half away from zero (the product's one rule).
 */

export const GROSZ_PER_PLN = 100n;

/** An NBP rate and where it comes from; every PLN figure is labelled with one. */
export type ExchangeRate = {
  /** PLN per 1 USD, exact decimal text, e.g. "3.7675". */
  usdPln: string;
  effectiveDate: string;
  tableNo: string;
  source: 'NBP Table C' | 'NBP Table A';
};

const RATE_SCALE = 8;

/** PLN per USD as an integer count of 1e-8 PLN; NBP rates have 4 decimals, so this is exact. */
function rateUnits(usdPln: string): bigint {
  const units = parseScaled(usdPln, RATE_SCALE);
  if (units === undefined || units <= 0n) throw new RangeError(`not an exchange rate: ${usdPln}`);
  return units;
}

/** nano-USD × rate → grosz, rounded half away from zero. */
export function convertToPln(nanoUsd: bigint, usdPln: string): bigint {
  return divRound(nanoUsd * rateUnits(usdPln) * GROSZ_PER_PLN, NANO_PER_USD * 10n ** BigInt(RATE_SCALE));
}

/** "1234.50": exact, two decimals, for JSON strings and CSV. */
export function formatPln(grosz: bigint): string {
  const negative = grosz < 0n;
  const digits = (negative ? -grosz : grosz).toString().padStart(3, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** For the seeds' JSON number fields (`cost_pln: 50.0`); exact below 10^13 PLN. */
export function plnToNumber(grosz: bigint): number {
  return Number(formatPln(grosz));
}

/**
 * Polish notation as pl-PL writes it: "12 345,67 zł" (no-break space groups, only from five
 * integer digits on, as Intl does), "1234,50 zł", "-0,01 zł".
 */
export function formatPlnPolish(grosz: bigint): string {
  const [whole = '0', fraction = '00'] = formatPln(grosz).replace('-', '').split('.');
  const grouped = whole.length >= 5 ? whole.replace(/\B(?=(\d{3})+$)/g, '\u00a0') : whole;
  return `${grosz < 0n ? '-' : ''}${grouped},${fraction}\u00a0zł`;
}

/** A rate as NBP prints it, four decimals: "3.7675". */
export function formatRate(usdPln: string): string {
  return formatScaled(rateUnits(usdPln), RATE_SCALE).replace(
    /^(\d+)(?:\.(\d*))?$/,
    (_, whole: string, fraction = '') => `${whole}.${fraction.padEnd(4, '0')}`,
  );
}

/** The seeds' per-figure PLN fields; all null when no rate is available (USD-only answer). */
export function plnFields(
  nanoUsd: bigint,
  rate: ExchangeRate | null,
): { cost_pln: number | null; exchange_rate: number | null; exchange_rate_date: string | null } {
  if (!rate) return { cost_pln: null, exchange_rate: null, exchange_rate_date: null };
  return {
    cost_pln: plnToNumber(convertToPln(nanoUsd, rate.usdPln)),
    exchange_rate: Number(rate.usdPln),
    exchange_rate_date: rate.effectiveDate,
  };
}

export const PLN_UNAVAILABLE_MESSAGE = 'PLN conversion temporarily unavailable';

/** The seeds' `exchange_rate_info`, plus the flag and message the UI shows when PLN is unavailable. */
export function exchangeRateInfo(
  rate: ExchangeRate | null,
):
  | { pln_available: true; usd_pln: number; effective_date: string; table_no: string; source: string }
  | { pln_available: false; usd_pln: null; effective_date: null; table_no: null; source: null; message: string } {
  if (!rate) {
    return {
      pln_available: false,
      usd_pln: null,
      effective_date: null,
      table_no: null,
      source: null,
      message: PLN_UNAVAILABLE_MESSAGE,
    };
  }
  return {
    pln_available: true,
    usd_pln: Number(rate.usdPln),
    effective_date: rate.effectiveDate,
    table_no: rate.tableNo,
    source: rate.source,
  };
}
