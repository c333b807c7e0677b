import { z } from 'zod';
import { addDays, daysBetween, isDay } from '../../lib/time.js';
import { formatScaled, parseScaled } from '../../lib/money.js';

/**
 * NBP's public exchange-rate API (DESIGN §6): table C (bid/ask) and table A (mid) for USD.
 * A 404 is an answer, not a failure: "no table that day" (weekend, holiday, not yet published).
 * Everything else that is not a 200 with the documented JSON is an NbpError.
 */

export type NbpTable = 'A' | 'C';

export type NbpRate = {
  table: NbpTable;
  /** e.g. "064/C/NBP/2016" */
  tableNo: string;
  effectiveDate: string;
  /** Exact decimal text as NBP sent it (at least 4 decimals): "3.7675". Table C has bid and ask, table A mid. */
  bid: string | null;
  ask: string | null;
  mid: string | null;
};

export type NbpErrorKind = 'bad_request' | 'http' | 'timeout' | 'network' | 'invalid_response';

export class NbpError extends Error {
  constructor(
    readonly kind: NbpErrorKind,
    message: string,
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NbpError';
  }
}

export type NbpClient = {
  /** The table published on one day, or null when NBP has none for it. */
  rate(table: NbpTable, day: string): Promise<NbpRate | null>;
  /** Every table published in [from, to], oldest first; split into ≤ 93-day requests. */
  rates(table: NbpTable, from: string, to: string): Promise<NbpRate[]>;
};

/** NBP refuses ranges longer than 93 days. */
export const NBP_MAX_RANGE_DAYS = 93;

const decimal = z.string().regex(/^\d+(\.\d+)?([eE][+-]?\d+)?$/);
const responseSchema = z.object({
  table: z.enum(['A', 'C']),
  code: z.string(),
  rates: z
    .array(
      z.object({
        no: z.string().min(1),
        effectiveDate: z.string().refine(isDay, 'not a day'),
        bid: decimal.optional(),
        ask: decimal.optional(),
        mid: decimal.optional(),
      }),
    )
    .min(1),
});

/**
 * Rates are JSON numbers; JSON.parse would turn them into floats. Quoting them in the raw text
 * first keeps exactly the decimal NBP wrote ("4.0000" stays "4.0000").
 */
function quoteRateNumbers(body: string): string {
  return body.replace(/("(?:bid|ask|mid)"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g, '$1"$2"');
}

/** At least 4 decimals, no exponent: "4" → "4.0000", "3.76751" stays. */
function normalizeRate(text: string | undefined): string | null {
  if (text === undefined) return null;
  const plain = /^\d+(\.\d+)?$/.test(text) ? text : formatScaled(parseScaled(text, 12) ?? 0n, 12);
  const [whole, fraction = ''] = plain.split('.');
  return `${whole}.${fraction.padEnd(4, '0')}`;
}

export function parseNbpResponse(body: string, expected: NbpTable): NbpRate[] {
  let json: unknown;
  try {
    json = JSON.parse(quoteRateNumbers(body));
  } catch (error) {
    throw new NbpError('invalid_response', `NBP answered with invalid JSON: ${body.slice(0, 80)}`, 200, {
      cause: error,
    });
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success || parsed.data.table !== expected || parsed.data.code.toUpperCase() !== 'USD') {
    throw new NbpError('invalid_response', `NBP answered with an unexpected table ${body.slice(0, 120)}`, 200);
  }
  const rates = parsed.data.rates.map((r) => ({
    table: expected,
    tableNo: r.no,
    effectiveDate: r.effectiveDate,
    bid: normalizeRate(r.bid),
    ask: normalizeRate(r.ask),
    mid: normalizeRate(r.mid),
  }));
  for (const rate of rates) {
    const missing = expected === 'A' ? rate.mid === null : rate.ask === null || rate.bid === null;
    if (missing) throw new NbpError('invalid_response', `NBP table ${rate.tableNo} lacks its rates`, 200);
  }
  return rates.sort((a, b) => a.effectiveDate.localeCompare(b.effectiveDate));
}

export function createNbpClient(options: { apiBase: string; timeoutSeconds: number; fetch?: typeof fetch }): NbpClient {
  const doFetch = options.fetch ?? fetch;
  const base = options.apiBase.replace(/\/+$/, '');

  /** The rates in one response, or [] for NBP's "404 NotFound - Not Found - Brak danych". */
  async function get(table: NbpTable, path: string): Promise<NbpRate[]> {
    const url = `${base}/api/exchangerates/rates/${table.toLowerCase()}/usd/${path}/?format=json`;
    let response: Response;
    let body: string;
    try {
      response = await doFetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000),
      });
      body = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw timedOut
        ? new NbpError('timeout', `NBP did not answer within ${options.timeoutSeconds}s (${path})`, null, {
            cause: error,
          })
        : new NbpError('network', `NBP unreachable: ${error instanceof Error ? error.message : String(error)}`, null, {
            cause: error,
          });
    }
    if (response.status === 404) return [];
    if (response.status === 400) {
      throw new NbpError('bad_request', `NBP refused ${path}: ${body.trim().slice(0, 200)}`, 400);
    }
    if (response.status !== 200) {
      throw new NbpError(
        'http',
        `NBP answered ${response.status} for ${path}: ${body.trim().slice(0, 200)}`,
        response.status,
      );
    }
    return parseNbpResponse(body, table);
  }

  return {
    async rate(table, day) {
      if (!isDay(day)) throw new NbpError('bad_request', `not a day: ${day}`);
      const rates = await get(table, day);
      return rates.find((rate) => rate.effectiveDate === day) ?? null;
    },

    async rates(table, from, to) {
      if (!isDay(from) || !isDay(to) || from > to) throw new NbpError('bad_request', `bad range ${from}..${to}`);
      const all: NbpRate[] = [];
      for (let start = from; start <= to; start = addDays(start, NBP_MAX_RANGE_DAYS)) {
        const last = addDays(start, NBP_MAX_RANGE_DAYS - 1);
        const end = last < to ? last : to;
        // A one-day range is asked as a day: NBP answers both, the day form is the documented one.
        all.push(...(await get(table, daysBetween(start, end) === 1 ? start : `${start}/${end}`)));
      }
      return all;
    },
  };
}
