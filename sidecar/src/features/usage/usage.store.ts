import type { Knex } from 'knex';
import type { Db } from '../../db/dialect.js';
import { openValuesReader, sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';
import { USAGE_EVENT_COLUMNS, totalsColumns, type DailyTotals } from '../ledger/ledger.store.js';

/** Every report reads usage_daily, the rollup the ledger writes in the same transaction. */

export type Totals = DailyTotals & {
  /** Latest change to any counted row, UTC ISO; null when nothing was counted. */
  lastUpdated: string | null;
};

export const emptyTotals = (): Totals => ({
  requests: 0n,
  inputTokens: 0n,
  outputTokens: 0n,
  cachedTokens: 0n,
  reasoningTokens: 0n,
  rawCostNanoUsd: 0n,
  billedCostNanoUsd: 0n,
  pendingCostRequests: 0n,
  lastUpdated: null,
});

export type GroupColumn = 'client_org_id' | 'usage_day' | 'user_id' | 'model';

export type UsageFilter = {
  /** Undefined means every org; an empty list matches nothing. */
  clientOrgIds?: string[];
  from: string;
  to: string;
  userId?: string;
};

export type GroupedTotals = { keys: Partial<Record<GroupColumn, string>>; totals: Totals };

/** Totals per group (or one row of grand totals with no grouping) over a day range. */
export async function aggregateUsage(
  db: Db,
  filter: UsageFilter,
  groupBy: GroupColumn[] = [],
): Promise<GroupedTotals[]> {
  if (filter.clientOrgIds?.length === 0) return groupBy.length === 0 ? [{ keys: {}, totals: emptyTotals() }] : [];
  const query = db('usage_daily')
    .select(...groupBy)
    .select(Object.entries(totalsColumns).map(([alias, column]) => sumText(db, column, alias)))
    .max({ lastUpdated: 'updated_at' })
    .whereBetween('usage_day', [filter.from, filter.to]);
  if (filter.clientOrgIds) void query.whereIn('client_org_id', filter.clientOrgIds);
  if (filter.userId !== undefined) void query.where('user_id', filter.userId);
  if (groupBy.length > 0) void query.groupBy(...groupBy).orderBy(groupBy);
  const rows: Record<string, unknown>[] = await query;
  return rows.map((row) => {
    const totals = emptyTotals();
    for (const field of Object.keys(totalsColumns) as (keyof typeof totalsColumns)[])
      totals[field] = toBigInt(row[field]);
    totals.lastUpdated = row.lastUpdated == null ? null : String(row.lastUpdated);
    const keys: GroupedTotals['keys'] = {};
    for (const column of groupBy) keys[column] = String(row[column]);
    return { keys, totals };
  });
}

export async function totalUsage(db: Db, filter: UsageFilter): Promise<Totals> {
  const [row] = await aggregateUsage(db, filter);
  return row?.totals ?? emptyTotals();
}

/**
 * What an export reads: the ledger's columns (USAGE_EVENT_COLUMNS order, see
 * USAGE_EVENT_COLUMN_INDEX), then `id`, which orders rows within a day.
 */
export type LedgerValues = readonly unknown[];
const EXPORT_READ_COLUMNS = [...USAGE_EVENT_COLUMNS, 'id'] as const;
const DAY = USAGE_EVENT_COLUMNS.indexOf('usage_day');
const ID = USAGE_EVENT_COLUMNS.length;

function byDayThenId(a: readonly unknown[], b: readonly unknown[]): number {
  const [dayA, dayB] = [String(a[DAY]), String(b[DAY])];
  return dayA < dayB ? -1 : dayA > dayB ? 1 : Number(a[ID]) - Number(b[ID]);
}

/**
 * Ledger rows of the given orgs, a page at a time so a year of events never sits in memory: org
 * by org in the order given, each in day order and, within a day, in the order recorded. Pages
 * follow the (client_org_id, usage_day) index with a (usage_day, id) keyset, so each page is one
 * range read of that index, never a sort of the whole period, however large the ledger grows.
 * The next page is read while the caller handles the current one. Rows stay value arrays: an
 * export formats thousands of them, and building a UsageEvent of each doubled its cost.
 */
export async function* readLedgerValues(
  db: Knex,
  filter: UsageFilter & { clientOrgIds: string[] },
  pageSize = 250,
): AsyncGenerator<LedgerValues[]> {
  // Written out rather than built by the query builder: the same SQL runs once per page.
  const [byUser, userBindings] = filter.userId === undefined ? ['', []] : [' AND user_id = ?', [filter.userId]];
  const pageSql =
    `SELECT ${EXPORT_READ_COLUMNS.join(', ')} FROM usage_events ` +
    `WHERE client_org_id = ? AND (usage_day, id) > (?, ?) AND usage_day <= ?${byUser} ORDER BY usage_day, id LIMIT ?`;
  const reader = openValuesReader(db, EXPORT_READ_COLUMNS, pageSql);
  const readPage = async (clientOrgId: string, after: [string, number]) =>
    // Aggregated into one JSON value, whose order is not guaranteed: sorted again (already in order).
    (await reader.read([clientOrgId, ...after, filter.to, ...userBindings, pageSize])).sort(byDayThenId);
  try {
    for (const clientOrgId of filter.clientOrgIds) {
      let next: Promise<unknown[][]> | null = readPage(clientOrgId, [filter.from, 0]);
      while (next) {
        const rows: unknown[][] = await next;
        const last = rows[rows.length - 1];
        next = rows.length === pageSize && last ? readPage(clientOrgId, [String(last[DAY]), Number(last[ID])]) : null;
        // A caller that stops early leaves the read ahead unawaited; its failure is not an error then.
        next?.catch(() => undefined);
        // The read ahead reaches the database over a few promise steps, which would otherwise
        // wait until the caller has formatted this page: one turn of the event loop lets it go
        // first, so SQLite reads the next page while the caller formats this one.
        await new Promise((resolve) => setImmediate(resolve));
        if (rows.length > 0) yield rows;
      }
    }
  } finally {
    await reader.close();
  }
}
