import type { Db } from '../../db/dialect.js';
import { sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

/** What the limit check needs of an org. */
export type LimitedOrg = {
  id: string;
  instanceId: string;
  name: string;
  monthlyLimitNanoUsd: bigint | null;
};

/** What the limit check needs of a user's mapping. */
export type LimitedUser = {
  userId: string;
  clientOrgId: string;
  monthlyLimitNanoUsd: bigint | null;
};

/** Billed cost of one user of one org over a range of days. */
export type UserMonthUsage = { clientOrgId: string; userId: string; billedCostNanoUsd: bigint };

type Row = Record<string, unknown>;
const limitOf = (value: unknown) => (value === null || value === undefined ? null : toBigInt(value));

/** One instance's mappings, each with the limit set on it. */
export async function listLimitedUsers(db: Db, instanceId: string): Promise<LimitedUser[]> {
  const rows: Row[] = await db('user_client_mappings')
    .select('user_id', 'client_org_id', 'monthly_limit_nano_usd')
    .where({ instance_id: instanceId });
  return rows.map((row) => ({
    userId: String(row.user_id),
    clientOrgId: String(row.client_org_id),
    monthlyLimitNanoUsd: limitOf(row.monthly_limit_nano_usd),
  }));
}

/** The instance's orgs and any other org one of its mappings points to. */
export async function listLimitedOrgs(db: Db, instanceId: string): Promise<LimitedOrg[]> {
  const rows: Row[] = await db('client_organizations')
    .select('id', 'instance_id', 'name', 'monthly_limit_nano_usd')
    .where({ instance_id: instanceId })
    .orWhereIn('id', db('user_client_mappings').select('client_org_id').where({ instance_id: instanceId }));
  return rows.map((row) => ({
    id: String(row.id),
    instanceId: String(row.instance_id),
    name: String(row.name),
    monthlyLimitNanoUsd: limitOf(row.monthly_limit_nano_usd),
  }));
}

/** Billed cost per org and user over a range of local days, from the rollup. */
export async function sumBilledByUser(
  db: Db,
  clientOrgIds: string[],
  days: { from: string; to: string },
): Promise<UserMonthUsage[]> {
  if (clientOrgIds.length === 0) return [];
  const rows: Row[] = await db('usage_daily')
    .select('client_org_id', 'user_id', sumText(db, 'billed_cost_nano_usd', 'billed'))
    .whereIn('client_org_id', clientOrgIds)
    .whereBetween('usage_day', [days.from, days.to])
    .groupBy('client_org_id', 'user_id');
  return rows.map((row) => ({
    clientOrgId: String(row.client_org_id),
    userId: String(row.user_id),
    billedCostNanoUsd: toBigInt(row.billed),
  }));
}

const CHUNK = 500;

/** The cost status of those of these ledger events that are stored (as `db` sees them: a snapshot). */
export async function findCostStatuses(db: Db, eventIds: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (let i = 0; i < eventIds.length; i += CHUNK) {
    const rows: Row[] = await db('usage_events')
      .select('event_id', 'cost_status')
      .whereIn('event_id', eventIds.slice(i, i + CHUNK));
    for (const row of rows) found.set(String(row.event_id), String(row.cost_status));
  }
  return found;
}

/** One round trip that reads nothing. */
export async function ping(db: Db): Promise<void> {
  await db.raw('SELECT 1');
}
