import type { DisplayRate, StatutoryRate } from '../exchange-rates/exchange-rates.service.js';
import { convertToPln, exchangeRateInfo, plnToNumber, type ExchangeRate } from '../exchange-rates/pln.js';

/**
 * PLN beside USD in usage responses (DESIGN §6). Two rates, never mixed in one figure:
 * - display figures (every report) use the table C ask rate in force now, one per response;
 * - billing-statement day lines use table A mid of the last NBP business day before the day.
 * Each figure says which: `exchange_rate_source` beside display figures, `rate.source` on day lines.
 * Like `cost` / `cost_nano_usd`, PLN comes as a 2-decimal number (`cost_pln`) and as exact
 * integer grosz in a string (`cost_pln_grosz`).
 */

export type PlnAmount = { cost_pln: number | null; cost_pln_grosz: string | null };

/** A grosz amount as the number/exact-string pair; both null when there is no rate. */
export function plnAmount(grosz: bigint | null): PlnAmount {
  return grosz === null
    ? { cost_pln: null, cost_pln_grosz: null }
    : { cost_pln: plnToNumber(grosz), cost_pln_grosz: grosz.toString() };
}

/** The seeds' per-figure PLN fields at the display rate; all null (USD only) without a rate. */
export function displayPln(nanoUsd: bigint, rate: ExchangeRate | null) {
  return {
    ...plnAmount(rate ? convertToPln(nanoUsd, rate.usdPln) : null),
    exchange_rate: rate ? Number(rate.usdPln) : null,
    exchange_rate_date: rate?.effectiveDate ?? null,
    exchange_rate_source: rate?.source ?? null,
  };
}

/** The seeds' `exchange_rate_info` for the display rate; `stale` when NBP could not be asked just now. */
export function displayRateInfo(rate: DisplayRate | null) {
  return { ...exchangeRateInfo(rate), ...(rate ? { stale: rate.stale } : {}) };
}

export const STATEMENT_RATE_RULE =
  'NBP Table A mid rate of the last NBP business day before each cost day (per day, rounded to the grosz)';

/** Why a statement day has no PLN figure. */
export function statementRateMissing(day: string): string {
  return `no NBP Table A rate is known for the last business day before ${day} (NBP unavailable and none stored)`;
}

/** A statement day's rate as printed on its line. */
export function statementRateView(rate: StatutoryRate | null) {
  return rate
    ? { usd_pln: Number(rate.usdPln), table_no: rate.tableNo, effective_date: rate.effectiveDate, source: rate.source }
    : null;
}
