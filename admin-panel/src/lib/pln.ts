import type { ExchangeRateInfo, PlnFields } from '../api/types.js';

export type NbpRate = {
  rate: number;
  date: string | null;
  table: string | null;
  /** "NBP Table C" (display figures) or "NBP Table A" (statement day lines). */
  source: string | null;
  /** NBP could not be asked just now: the last rate stored. */
  stale: boolean;
};

type RateSource = (PlnFields & { exchange_rate_info?: ExchangeRateInfo | string | null }) | null | undefined;

/**
 * The NBP rate behind a response's PLN figures. The response's `exchange_rate_info` (on the
 * response or on `stats`) describes it fully; a totals object's `exchange_rate*` fields name it
 * too. Null when the sidecar says PLN is unavailable or sent no rate.
 */
export function rateOf(...sources: RateSource[]): NbpRate | null {
  const infos = sources
    .map((source) => source?.exchange_rate_info)
    .filter((info): info is ExchangeRateInfo => typeof info === 'object' && info !== null);
  if (infos.some((info) => info.pln_available === false)) return null;
  const info = infos.find((i) => validRate(i.usd_pln ?? i.rate) !== null);
  const totals = sources.find((source) => validRate(source?.exchange_rate) !== null);
  const rate = validRate(info?.usd_pln ?? info?.rate) ?? validRate(totals?.exchange_rate);
  if (rate === null) return null;
  return {
    rate,
    date: info?.effective_date ?? totals?.exchange_rate_date ?? null,
    table: info?.table_no ?? null,
    source: info?.source ?? totals?.exchange_rate_source ?? null,
    stale: info?.stale === true,
  };
}

function validRate(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

/**
 * A figure's PLN amount, exact: the `cost_pln_grosz` string as decimal text ("50.15"), else the
 * `cost_pln` number; undefined when there is none to show.
 */
export function plnOf(
  totals: Pick<PlnFields, 'cost_pln' | 'cost_pln_grosz'> | null | undefined,
): string | number | undefined {
  return plnAmountOf(totals?.cost_pln_grosz, totals?.cost_pln);
}

/** The same for any grosz/number pair (e.g. `daily_average_cost_pln_grosz`). */
export function plnAmountOf(
  grosz: string | null | undefined,
  pln: number | null | undefined,
): string | number | undefined {
  if (typeof grosz === 'string' && /^-?\d+$/.test(grosz)) {
    const value = BigInt(grosz);
    const abs = value < 0n ? -value : value;
    return `${value < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
  }
  return typeof pln === 'number' && Number.isFinite(pln) ? pln : undefined;
}
