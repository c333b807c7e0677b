import type { Db } from '../../db/dialect.js';
import { selectRowsAsJson, sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';
import {
  USAGE_EVENT_COLUMNS,
  rowToUsageEvent,
  totalsColumns,
  type DailyTotals,
  type UsageEvent,
} from '../ledger/ledger.store.js';

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

/** The ledger columns an export reads (rowToUsageEvent's input); `id` pages through them. */
const EVENT_COLUMNS = ['id', ...USAGE_EVENT_COLUMNS] as const;

/** Ledger rows in id order, a page at a time, for exports that may be large. */
export async function* readUsageEvents(db: Db, filter: UsageFilter, pageSize = 5_000): AsyncGenerator<UsageEvent[]> {
  if (filter.clientOrgIds?.length === 0) return;
  let afterId = 0;
  for (;;) {
    const query = db('usage_events')
      .select(EVENT_COLUMNS)
      .where('id', '>', afterId)
      .whereBetween('usage_day', [filter.from, filter.to])
      .orderBy('id')
      .limit(pageSize);
    if (filter.clientOrgIds) void query.whereIn('client_org_id', filter.clientOrgIds);
    if (filter.userId !== undefined) void query.where('user_id', filter.userId);
    // Aggregated into one JSON value; its order is not guaranteed, so sort by id again.
    const rows = (await selectRowsAsJson(db, EVENT_COLUMNS, query)).sort((a, b) => Number(a.id) - Number(b.id));
    if (rows.length === 0) return;
    afterId = Number(rows[rows.length - 1]!.id);
    yield rows.map(rowToUsageEvent);
    if (rows.length < pageSize) return;
  }
}
