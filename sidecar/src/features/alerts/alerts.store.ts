import type { Knex } from 'knex';
import type { Db } from '../../db/dialect.js';
import { intParam } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

/** A limit alert with the names reports show beside it. */
export type LimitAlert = {
  id: number;
  clientOrgId: string;
  clientOrgName: string | null;
  /** The instance the org belongs to. */
  instanceId: string | null;
  /** '' for the org's own limit. */
  userId: string;
  userEmail: string | null;
  userName: string | null;
  period: string;
  thresholdPct: number;
  limitNanoUsd: bigint;
  usedNanoUsd: bigint;
  createdAt: string;
  deliveredAt: string | null;
  deliveryError: string | null;
};

export type NewLimitAlert = Pick<
  LimitAlert,
  'clientOrgId' | 'userId' | 'period' | 'thresholdPct' | 'limitNanoUsd' | 'usedNanoUsd' | 'createdAt'
>;

type Row = Record<string, unknown>;
const text = (value: unknown) => (value === null || value === undefined ? null : String(value));

function rowToLimitAlert(row: Row): LimitAlert {
  return {
    id: Number(row.id),
    clientOrgId: String(row.client_org_id),
    clientOrgName: text(row.client_org_name),
    instanceId: text(row.instance_id),
    userId: String(row.user_id),
    userEmail: text(row.user_email),
    userName: text(row.user_name),
    period: String(row.period),
    thresholdPct: Number(row.threshold_pct),
    limitNanoUsd: toBigInt(row.limit_nano_usd),
    usedNanoUsd: toBigInt(row.used_nano_usd),
    createdAt: String(row.created_at),
    deliveredAt: text(row.delivered_at),
    deliveryError: text(row.delivery_error),
  };
}

/** Alerts with their org's name and instance, and the user's name from that instance's mapping. */
function selectAlerts(db: Db): Knex.QueryBuilder {
  return db('limit_alerts as a')
    .leftJoin('client_organizations as o', 'o.id', 'a.client_org_id')
    .leftJoin('user_client_mappings as m', (join) => {
      join.on('m.instance_id', '=', 'o.instance_id').andOn('m.user_id', '=', 'a.user_id');
    })
    .select(
      'a.*',
      'o.name as client_org_name',
      'o.instance_id as instance_id',
      'm.user_email as user_email',
      'm.user_name as user_name',
    );
}

/** Inserts the alert unless that threshold already fired this period; returns its id if new. */
export async function insertAlertIfMissing(db: Db, alert: NewLimitAlert): Promise<number | null> {
  const rows: Row[] = await db('limit_alerts')
    .insert({
      client_org_id: alert.clientOrgId,
      user_id: alert.userId,
      period: alert.period,
      threshold_pct: alert.thresholdPct,
      limit_nano_usd: intParam(alert.limitNanoUsd),
      used_nano_usd: intParam(alert.usedNanoUsd),
      created_at: alert.createdAt,
    })
    .onConflict(['client_org_id', 'user_id', 'period', 'threshold_pct'])
    .ignore()
    .returning('id');
  const [row] = rows;
  return row === undefined ? null : Number(row.id);
}

export async function findAlert(db: Db, id: number): Promise<LimitAlert | undefined> {
  const row: Row | undefined = await selectAlerts(db).where('a.id', id).first();
  return row ? rowToLimitAlert(row) : undefined;
}

/** A period's alerts, of one instance's orgs (admin) or all (operator), oldest first (80% before 100%). */
export async function listAlerts(
  db: Db,
  filter: { period: string; instanceId?: string; clientOrgId?: string },
): Promise<LimitAlert[]> {
  const query = selectAlerts(db)
    .where('a.period', filter.period)
    .orderBy(['a.created_at', 'a.client_org_id', 'a.user_id', 'a.threshold_pct', 'a.id']);
  if (filter.instanceId !== undefined) void query.where('o.instance_id', filter.instanceId);
  if (filter.clientOrgId !== undefined) void query.where('a.client_org_id', filter.clientOrgId);
  return ((await query) as Row[]).map(rowToLimitAlert);
}

/** Alerts of one instance's orgs not delivered yet, created since an instant, oldest first. */
export async function listUndeliveredAlerts(
  db: Db,
  filter: { instanceId: string; createdSince: string; limit: number },
): Promise<LimitAlert[]> {
  const rows: Row[] = await selectAlerts(db)
    .whereNull('a.delivered_at')
    .where('o.instance_id', filter.instanceId)
    .where('a.created_at', '>=', filter.createdSince)
    .orderBy([{ column: 'a.id' }])
    .limit(filter.limit);
  return rows.map(rowToLimitAlert);
}

export async function markAlertDelivered(db: Db, id: number, at: string): Promise<void> {
  await db('limit_alerts').where({ id }).update({ delivered_at: at, delivery_error: null });
}

export async function markAlertDeliveryFailed(db: Db, id: number, error: string): Promise<void> {
  await db('limit_alerts')
    .where({ id })
    .update({ delivery_error: error.slice(0, 1000) });
}
