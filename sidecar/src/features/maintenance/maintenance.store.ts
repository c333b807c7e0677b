import { totalsColumns, type DailyKey, type DailyTotals } from '../ledger/ledger.store.js';
import type { Db } from '../../db/dialect.js';
import { intParam, isPostgres, sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

/** Tables that hold usage (and what is derived from it); configuration lives elsewhere. */
export const USAGE_TABLES = [
  'cost_lookups',
  'generation_starts',
  'reconciliations',
  'limit_alerts',
  'usage_daily',
  'usage_events',
] as const;

type Row = Record<string, unknown>;

/**
 * Deletes the usage of the given orgs (cost look-ups first: they are keyed by event), and the
 * instance's ledger backlog (usage stored while migrations could not run, not yet in the ledger).
 */
export async function deleteUsage(db: Db, instanceId: string, orgIds: string[]): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  deleted.cost_lookups = await db('cost_lookups')
    .whereIn('event_id', db('usage_events').select('event_id').whereIn('client_org_id', orgIds))
    .delete();
  for (const table of USAGE_TABLES) {
    if (table === 'cost_lookups') continue;
    deleted[table] = await db(table).whereIn('client_org_id', orgIds).delete();
  }
  if (await db.schema.hasTable('ledger_backlog')) {
    deleted.ledger_backlog = await db('ledger_backlog').where({ instance_id: instanceId }).delete();
  }
  return deleted;
}

export async function countRows(db: Db, table: string): Promise<number> {
  const row = (await db(table).count({ n: '*' }).first()) as Row | undefined;
  return Number(row?.n ?? 0);
}

export type RollupTotals = DailyTotals;
export type RollupKey = DailyKey;
export type RollupRow = RollupKey & { totals: RollupTotals };

function rowToRollupRow(row: Row): RollupRow {
  const totals = {} as RollupTotals;
  for (const [field, column] of Object.entries(totalsColumns) as [keyof RollupTotals, string][]) {
    totals[field] = toBigInt(row[column]);
  }
  return {
    clientOrgId: String(row.client_org_id),
    usageDay: String(row.usage_day),
    userId: String(row.user_id),
    model: String(row.model),
    totals,
  };
}

const KEY_COLUMNS = ['client_org_id', 'usage_day', 'user_id', 'model'];

/**
 * Takes the ledger's write lock for the rest of the caller's transaction, before it reads, so
 * the ledger cannot change between reading and rewriting the rollup: ledger writes wait (they do
 * not fail) until the transaction ends. PostgreSQL: a lock that blocks INSERT/UPDATE but not
 * reads. SQLite: a write statement that changes nothing takes the database's write lock.
 */
export async function lockLedgerWrites(tx: Db): Promise<void> {
  if (isPostgres(tx)) await tx.raw('LOCK TABLE usage_events, usage_daily IN SHARE ROW EXCLUSIVE MODE');
  else await tx('usage_daily').where(tx.raw('0 = 1')).delete();
}

/** Sets one usage_daily row to the given totals (not adding to them); null deletes the row. */
export async function writeRollupRow(db: Db, key: RollupKey, totals: RollupTotals | null, at: string): Promise<void> {
  const where = { client_org_id: key.clientOrgId, usage_day: key.usageDay, user_id: key.userId, model: key.model };
  if (totals === null) {
    await db('usage_daily').where(where).delete();
    return;
  }
  const figures: Row = {};
  for (const [field, column] of Object.entries(totalsColumns) as [keyof RollupTotals, string][]) {
    figures[column] = intParam(totals[field]);
  }
  await db('usage_daily')
    .insert({ ...where, ...figures, updated_at: at })
    .onConflict(KEY_COLUMNS)
    .merge();
}

/** usage_daily as stored. */
export async function readRollup(db: Db): Promise<RollupRow[]> {
  const rows: Row[] = await db('usage_daily')
    .select(KEY_COLUMNS)
    .select(Object.values(totalsColumns).map((column) => db.raw('CAST(?? AS TEXT) AS ??', [column, column])));
  return rows.map(rowToRollupRow);
}

/**
 * usage_daily as the ledger says it must be: what each event adds (ledger.store's dailyDeltaOf:
 * manual corrections add no request; pending costs count until filled), summed per row.
 */
export async function recomputeRollup(db: Db): Promise<RollupRow[]> {
  const rows: Row[] = await db('usage_events')
    .select(KEY_COLUMNS)
    .select(
      db.raw(`CAST(SUM(CASE WHEN source = 'manual' THEN 0 ELSE 1 END) AS TEXT) AS requests`),
      sumText(db, 'input_tokens', 'input_tokens'),
      sumText(db, 'output_tokens', 'output_tokens'),
      sumText(db, 'cached_tokens', 'cached_tokens'),
      sumText(db, 'reasoning_tokens', 'reasoning_tokens'),
      sumText(db, 'raw_cost_nano_usd', 'raw_cost_nano_usd'),
      sumText(db, 'billed_cost_nano_usd', 'billed_cost_nano_usd'),
      db.raw(`CAST(SUM(CASE WHEN cost_status = 'pending' THEN 1 ELSE 0 END) AS TEXT) AS pending_cost_requests`),
    )
    .groupBy(KEY_COLUMNS);
  return rows.map(rowToRollupRow);
}

/** Rows holding encrypted secrets: each org's OpenRouter key and the provisioning key. */
export async function readEncryptedSecrets(
  db: Db,
): Promise<{ kind: 'org' | 'provisioning'; id: string; value: string }[]> {
  const orgs: Row[] = await db('client_organizations')
    .select('id', 'openrouter_key_encrypted')
    .whereNotNull('openrouter_key_encrypted')
    .orderBy('id');
  const settings: Row[] = await db('global_settings')
    .select('id', 'openrouter_provisioning_key_encrypted')
    .whereNotNull('openrouter_provisioning_key_encrypted');
  return [
    ...orgs.map((row) => ({ kind: 'org' as const, id: String(row.id), value: String(row.openrouter_key_encrypted) })),
    ...settings.map((row) => ({
      kind: 'provisioning' as const,
      id: String(row.id),
      value: String(row.openrouter_provisioning_key_encrypted),
    })),
  ];
}

export async function writeEncryptedSecret(db: Db, kind: 'org' | 'provisioning', id: string, value: string) {
  if (kind === 'org') await db('client_organizations').where({ id }).update({ openrouter_key_encrypted: value });
  else await db('global_settings').where({ id }).update({ openrouter_provisioning_key_encrypted: value });
}

/** The instances whose orgs are in the database (several sidecars may share one PostgreSQL). */
export async function instancesInDatabase(db: Db): Promise<string[]> {
  const rows: Row[] = await db('client_organizations').distinct('instance_id').orderBy('instance_id');
  return rows.map((row) => String(row.instance_id));
}
