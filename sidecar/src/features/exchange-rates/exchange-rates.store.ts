import type { Db } from '../../db/dialect.js';
import type { NbpRate, NbpTable } from './nbp.client.js';

/** A published NBP rate as stored, with when NBP last confirmed it. */
export type StoredRate = NbpRate & { fetchedAt: string };

const CURRENCY = 'USD';
const CHUNK = 100;

function rowToStoredRate(row: Record<string, unknown>): StoredRate {
  return {
    table: row.nbp_table as NbpTable,
    tableNo: row.table_no as string,
    effectiveDate: row.effective_date as string,
    bid: (row.bid as string | null) ?? null,
    ask: (row.ask as string | null) ?? null,
    mid: (row.mid as string | null) ?? null,
    fetchedAt: row.fetched_at as string,
  };
}

/** Inserts or refreshes rates; a row NBP sends again gets the new fetched_at (and any correction). */
export async function upsertRates(db: Db, rates: NbpRate[], fetchedAt: string): Promise<void> {
  const rows = rates.map((rate) => ({
    nbp_table: rate.table,
    currency: CURRENCY,
    effective_date: rate.effectiveDate,
    table_no: rate.tableNo,
    bid: rate.bid,
    ask: rate.ask,
    mid: rate.mid,
    fetched_at: fetchedAt,
  }));
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db('exchange_rates')
      .insert(rows.slice(i, i + CHUNK))
      .onConflict(['nbp_table', 'currency', 'effective_date'])
      .merge(['table_no', 'bid', 'ask', 'mid', 'fetched_at']);
  }
}

/** The newest rate of a table effective on or before a day. */
export async function latestRateOnOrBefore(db: Db, table: NbpTable, day: string): Promise<StoredRate | null> {
  const row = await db('exchange_rates')
    .where({ nbp_table: table, currency: CURRENCY })
    .andWhere('effective_date', '<=', day)
    .orderBy('effective_date', 'desc')
    .first();
  return row ? rowToStoredRate(row) : null;
}

/** Every stored rate of a table effective in [from, to], oldest first. */
export async function ratesBetween(db: Db, table: NbpTable, from: string, to: string): Promise<StoredRate[]> {
  const rows: Record<string, unknown>[] = await db('exchange_rates')
    .where({ nbp_table: table, currency: CURRENCY })
    .andWhere('effective_date', '>=', from)
    .andWhere('effective_date', '<=', to)
    .orderBy('effective_date', 'asc');
  return rows.map(rowToStoredRate);
}
