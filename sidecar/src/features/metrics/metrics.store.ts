import type { Db } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

/** Scrape-time reads for /metrics: small, indexed, and scoped to this instance's orgs. */

type Row = Record<string, unknown>;

/** Ledger events of the instance's orgs whose cost OpenRouter has not confirmed yet (index on cost_status). */
export async function countPendingCosts(db: Db, instanceId: string): Promise<number> {
  const [row] = (await db('usage_events as e')
    .join('client_organizations as o', 'o.id', 'e.client_org_id')
    .where('e.cost_status', 'pending')
    .andWhere('o.instance_id', instanceId)
    .count({ n: '*' })) as Row[];
  return Number(row?.n ?? 0);
}

export type OrgDrift = { clientOrgId: string; period: string; driftNanoUsd: bigint };

/** Each org's latest monthly key reconciliation: OpenRouter's figure minus the ledger's. */
export async function latestMonthlyDrift(db: Db, instanceId: string): Promise<OrgDrift[]> {
  const rows: Row[] = await db('reconciliations as r')
    .join('client_organizations as o', 'o.id', 'r.client_org_id')
    .where({ 'r.kind': 'key_monthly', 'r.model': '', 'o.instance_id': instanceId })
    .whereRaw(
      "r.period = (SELECT MAX(r2.period) FROM reconciliations r2 WHERE r2.client_org_id = r.client_org_id AND r2.kind = 'key_monthly' AND r2.model = '')",
    )
    .select('r.client_org_id', 'r.period', 'r.drift_nano_usd');
  return rows.map((row) => ({
    clientOrgId: String(row.client_org_id),
    period: String(row.period),
    driftNanoUsd: toBigInt(row.drift_nano_usd),
  }));
}
