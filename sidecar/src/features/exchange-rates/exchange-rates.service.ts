import { DateTime } from 'luxon';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { addDays, isDay, localDay } from '../../lib/time.js';
import { NBP_TIME_ZONE, isNbpBusinessDay } from './nbp.calendar.js';
import { createNbpClient, type NbpClient } from './nbp.client.js';
import { latestRateOnOrBefore, ratesBetween, upsertRates, type StoredRate } from './exchange-rates.store.js';
import type { ExchangeRate } from './pln.js';

/**
 * Two rates, two rules (DESIGN §6):
 * - display: table C ask, as the seeds specify — cached NBP_CACHE_TTL_HOURS, refreshed after
 *   8:15 Warsaw on business days, walking back up to NBP_MAX_DAYS_BACK days; never an error.
 * - statutory (billing statements): table A mid of the last business day BEFORE the cost day,
 *   as Polish tax law converts a cost.
 */

export type DisplayRate = ExchangeRate & {
  source: 'NBP Table C';
  /** When NBP last confirmed this was the newest table. */
  fetchedAt: string;
  /** True when NBP could not be asked and this is the last rate stored. */
  stale: boolean;
};

export type StatutoryRate = ExchangeRate & { source: 'NBP Table A'; /** The cost day it converts. */ forDay: string };

export type ExchangeRates = {
  /** Table C ask for showing costs in PLN, or null when none is known. Never throws. */
  displayRate(): Promise<DisplayRate | null>;
  /** Table A mid of the last NBP business day before `costDay`, or null when unknown. Never throws. */
  statutoryRate(costDay: string): Promise<StatutoryRate | null>;
  /** The same for many days at once (a month's statement), asking NBP at most once. */
  statutoryRates(costDays: string[]): Promise<Map<string, StatutoryRate | null>>;
  /** The job: fetches the latest tables C and A and stores them. Throws when NBP fails. */
  refresh(): Promise<{ tableC: string | null; tableA: string | null }>;
};

/** Table C is out by 8:15 on business days (published 7:45–8:15). */
const TABLE_C_DEADLINE = { hour: 8, minute: 15 };
/** Past the deadline without today's table (NBP late, or a holiday the calendar missed): ask again this often. */
const LATE_TABLE_RECHECK_MS = 30 * 60_000;
/** After NBP fails, callers get the stored rate at once instead of each waiting for the timeout. */
const FAILURE_BACKOFF_MS = 5 * 60_000;
/** Longer than any run of days without a table (Christmas 2025: 24–28 December). */
const STATUTORY_LOOKBACK_DAYS = 14;

export function createExchangeRates(deps: {
  db: Knex;
  config: Config;
  logger: Logger;
  now: () => Date;
  client?: NbpClient;
}): ExchangeRates {
  const client =
    deps.client ??
    createNbpClient({ apiBase: deps.config.nbp.apiBase, timeoutSeconds: deps.config.nbp.timeoutSeconds });
  const ttlMs = deps.config.nbp.cacheTtlHours * 3_600_000;
  const maxDaysBack = deps.config.nbp.maxDaysBack;

  /** The display rate and when NBP was last asked for it (in memory; the database is the fallback). */
  let cached: { rate: DisplayRate | null; checkedAt: number } | null = null;
  let failedAt: number | null = null;
  let refreshing: Promise<DisplayRate | null> | null = null;

  const warsawToday = () => localDay(deps.now(), NBP_TIME_ZONE);

  function toDisplayRate(row: StoredRate | null, stale: boolean): DisplayRate | null {
    if (!row?.ask) return null;
    return {
      usdPln: row.ask,
      effectiveDate: row.effectiveDate,
      tableNo: row.tableNo,
      source: 'NBP Table C',
      fetchedAt: row.fetchedAt,
      stale,
    };
  }

  function isFresh(checkedAt: number, rate: DisplayRate | null): boolean {
    const now = deps.now();
    if (now.getTime() - checkedAt >= ttlMs) return false;
    const local = DateTime.fromJSDate(now).setZone(NBP_TIME_ZONE);
    const today = local.toISODate() ?? '';
    if (rate?.effectiveDate === today || !isNbpBusinessDay(today)) return true;
    const deadline = local.set({ ...TABLE_C_DEADLINE, second: 0, millisecond: 0 }).toMillis();
    if (now.getTime() < deadline) return true;
    // Past 8:15 on a business day: today's table should be out. Checked before it → ask now;
    // checked after it and still missing → ask again now and then, not on every call.
    return checkedAt >= deadline && now.getTime() - checkedAt < LATE_TABLE_RECHECK_MS;
  }

  /** One walk-back: a single range request over the last NBP_MAX_DAYS_BACK days. */
  async function fetchLatestTableC(): Promise<DisplayRate | null> {
    const today = warsawToday();
    const rates = await client.rates('C', addDays(today, -maxDaysBack), today);
    const at = deps.now();
    await upsertRates(deps.db, rates, at.toISOString());
    const newest = rates.at(-1);
    // NBP answered but has nothing within the window: the last stored rate, marked stale, if any.
    const rate = newest
      ? toDisplayRate({ ...newest, fetchedAt: at.toISOString() }, false)
      : toDisplayRate(await latestRateOnOrBefore(deps.db, 'C', today), true);
    cached = { rate, checkedAt: at.getTime() };
    failedAt = null;
    return rate;
  }

  function refreshDisplay(): Promise<DisplayRate | null> {
    refreshing ??= fetchLatestTableC().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function lastKnownDisplayRate(): Promise<DisplayRate | null> {
    if (cached?.rate) return { ...cached.rate, stale: true };
    try {
      return toDisplayRate(await latestRateOnOrBefore(deps.db, 'C', warsawToday()), true);
    } catch (error) {
      deps.logger.warn({ err: error }, 'exchange rates: cannot read stored NBP rates');
      return null;
    }
  }

  async function displayRate(): Promise<DisplayRate | null> {
    try {
      if (!cached) {
        const stored = toDisplayRate(await latestRateOnOrBefore(deps.db, 'C', warsawToday()), false);
        if (stored) cached = { rate: stored, checkedAt: Date.parse(stored.fetchedAt) };
      }
      if (cached && isFresh(cached.checkedAt, cached.rate)) return cached.rate;
      if (failedAt !== null && deps.now().getTime() - failedAt < FAILURE_BACKOFF_MS)
        return await lastKnownDisplayRate();
      return await refreshDisplay();
    } catch (error) {
      failedAt = deps.now().getTime();
      deps.logger.warn({ err: error }, 'exchange rates: NBP table C unavailable, using the last stored rate');
      return lastKnownDisplayRate();
    }
  }

  function toStatutoryRate(row: StoredRate, forDay: string): StatutoryRate | null {
    if (!row.mid) return null;
    return { usdPln: row.mid, effectiveDate: row.effectiveDate, tableNo: row.tableNo, source: 'NBP Table A', forDay };
  }

  /**
   * The newest stored table A before the day. Trusted when NBP was just asked about the whole
   * span, or when the calendar says no table could exist between it and the day.
   */
  function resolve(rows: StoredRate[], day: string, trusted: boolean): StoredRate | null {
    const earliest = addDays(day, -STATUTORY_LOOKBACK_DAYS);
    const candidate = rows.filter((row) => row.effectiveDate < day && row.effectiveDate >= earliest).at(-1);
    if (!candidate) return null;
    if (trusted) return candidate;
    for (let d = addDays(candidate.effectiveDate, 1); d < day; d = addDays(d, 1)) {
      if (isNbpBusinessDay(d)) return null;
    }
    return candidate;
  }

  async function statutoryRates(costDays: string[]): Promise<Map<string, StatutoryRate | null>> {
    const result = new Map<string, StatutoryRate | null>(costDays.map((day) => [day, null]));
    try {
      const today = warsawToday();
      // A cost day after today (Warsaw) may need a table A not yet published.
      const days = [...new Set(costDays)].filter((day) => isDay(day) && day <= today).sort();
      if (days.length === 0) return result;
      const from = addDays(days[0]!, -STATUTORY_LOOKBACK_DAYS);
      const to = addDays(days.at(-1)!, -1);
      let rows = await ratesBetween(deps.db, 'A', from, to);
      let unresolved = days.filter((day) => !resolve(rows, day, false));
      if (unresolved.length > 0) {
        try {
          await upsertRates(deps.db, await client.rates('A', from, to), deps.now().toISOString());
          rows = await ratesBetween(deps.db, 'A', from, to);
          unresolved = [];
        } catch (error) {
          // Without NBP only calendar-verified rows are used; an unverifiable day stays null.
          deps.logger.warn({ err: error }, 'exchange rates: NBP table A unavailable');
        }
      }
      const trusted = unresolved.length === 0;
      for (const day of days) {
        const row = resolve(rows, day, trusted);
        result.set(day, row ? toStatutoryRate(row, day) : null);
      }
    } catch (error) {
      deps.logger.warn({ err: error }, 'exchange rates: statutory rates unavailable');
    }
    return result;
  }

  return {
    displayRate,

    async statutoryRate(costDay) {
      return (await statutoryRates([costDay])).get(costDay) ?? null;
    },

    statutoryRates,

    async refresh() {
      const today = warsawToday();
      const tableC = await refreshDisplay();
      const tableA = await client.rates('A', addDays(today, -STATUTORY_LOOKBACK_DAYS), today);
      await upsertRates(deps.db, tableA, deps.now().toISOString());
      return { tableC: tableC?.tableNo ?? null, tableA: tableA.at(-1)?.tableNo ?? null };
    },
  };
}
