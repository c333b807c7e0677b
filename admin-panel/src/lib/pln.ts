import type { PlnFields } from '../api/types.js';

export type NbpRate = { rate: number; date: string | null; table: string | null };

/**
 * The NBP rate behind a response's PLN figures, looked up on the response first and then on the
 * totals objects it carries; null when the sidecar sent no rate (PLN unavailable).
 */
export function rateOf(...sources: (PlnFields | null | undefined)[]): NbpRate | null {
  for (const source of sources) {
    if (!source) continue;
    const info = typeof source.exchange_rate_info === 'object' ? source.exchange_rate_info : null;
    const rate = source.exchange_rate ?? info?.usd_pln ?? info?.rate ?? null;
    if (typeof rate === 'number' && Number.isFinite(rate) && rate > 0) {
      return {
        rate,
        date: source.exchange_rate_date ?? info?.effective_date ?? null,
        table: info?.table_no ?? null,
      };
    }
  }
  return null;
}

/** A totals object's PLN figure, or undefined when there is none to show. */
export function plnOf(totals: PlnFields | null | undefined): number | undefined {
  const pln = totals?.cost_pln;
  return typeof pln === 'number' && Number.isFinite(pln) ? pln : undefined;
}
