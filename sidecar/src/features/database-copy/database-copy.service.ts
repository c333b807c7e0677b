import type { Knex } from 'knex';
import { isPostgres } from '../../db/dialect.js';
import { migrateLatest } from '../../db/migrator.js';
import { RefusedError } from '../maintenance/maintenance.service.js';

/**
 * `mai-usage copy-to-postgres`: moves a tenant's SQLite database into PostgreSQL — possibly one
 * that other tenants' sidecars already share. Every table is copied in its row order, in one
 * transaction on the target: the copy lands whole or not at all. Serial ids (ledger rows, audit
 * entries, alerts) are given new ids by PostgreSQL in the same order, so they cannot collide with
 * other tenants' rows; nothing refers to them.
 */

type Row = Record<string, unknown>;

type TablePlan = {
  table: string;
  /** Serial id: not copied. */
  serialId?: boolean;
  /** Rows the target may already hold (shared): kept, the copy's ignored. */
  keepExisting?: string[];
};

/** In foreign-key order. knex_migrations is not copied: the target is migrated by Knex. */
const TABLES: TablePlan[] = [
  { table: 'global_settings', keepExisting: ['id'] },
  { table: 'client_organizations' },
  { table: 'user_client_mappings' },
  { table: 'usage_events', serialId: true },
  { table: 'usage_daily' },
  { table: 'generation_starts' },
  { table: 'audit_log', serialId: true },
  { table: 'exchange_rates', keepExisting: ['nbp_table', 'currency', 'effective_date'] },
  { table: 'cost_lookups' },
  { table: 'reconciliations' },
  { table: 'limit_alerts', serialId: true },
  // Usage stored while migrations could not run; the target's sidecar rolls it up.
  { table: 'ledger_backlog', keepExisting: ['event_key'] },
];

const PAGE = 2_000;
const INSERT_CHUNK = 500;

export type CopyResult = { tables: { table: string; source: number; copied: number }[] };

async function sqliteColumns(source: Knex, table: string): Promise<{ name: string; type: string }[]> {
  const rows = (await source.raw('SELECT name, type FROM pragma_table_info(?) ORDER BY cid', [table])) as Row[];
  return rows.map((row) => ({ name: String(row.name), type: String(row.type).toLowerCase() }));
}

export async function copySqliteToPostgres(source: Knex, target: Knex): Promise<CopyResult> {
  if (isPostgres(source) || !isPostgres(target)) throw new Error('copies from SQLite to PostgreSQL only');
  const [pending] = (await source.migrate.list()).slice(1) as [unknown[]];
  if (pending.length > 0) {
    throw new RefusedError(
      `the SQLite database has migrations to run first (${pending.length}): run mai-usage migrate`,
    );
  }
  await migrateLatest(target);

  const orgIds = ((await source('client_organizations').select('id')) as Row[]).map((row) => String(row.id));
  const clashing = orgIds.length === 0 ? [] : await target('client_organizations').whereIn('id', orgIds).pluck('id');
  if (clashing.length > 0) {
    throw new RefusedError(
      `PostgreSQL already holds the orgs ${clashing.slice(0, 5).join(', ')}${clashing.length > 5 ? ', …' : ''}: ` +
        'this database was copied there before; nothing was changed',
    );
  }

  const tables: CopyResult['tables'] = [];
  await target.transaction(async (tx) => {
    for (const plan of TABLES) {
      const columns = (await sqliteColumns(source, plan.table)).filter(
        (column) => !(plan.serialId && column.name === 'id'),
      );
      // Integers leave SQLite as text: the sqlite3 driver would pass them through a float.
      const select = columns.map((column) =>
        column.type === 'bigint' ? source.raw('CAST(?? AS TEXT) AS ??', [column.name, column.name]) : column.name,
      );
      const booleans = columns.filter((column) => column.type === 'boolean').map((column) => column.name);
      let afterRowId = 0;
      let sourceRows = 0;
      let copied = 0;
      for (;;) {
        const rows = (await source(plan.table)
          .select(source.raw('rowid AS __rowid'), ...select)
          .where('rowid', '>', afterRowId)
          .orderBy('rowid')
          .limit(PAGE)) as Row[];
        if (rows.length === 0) break;
        afterRowId = Number(rows[rows.length - 1]!.__rowid);
        sourceRows += rows.length;
        const values = rows.map(({ __rowid: _rowid, ...row }) => {
          for (const name of booleans) if (row[name] !== null) row[name] = row[name] === 1 || row[name] === '1';
          return row;
        });
        for (let i = 0; i < values.length; i += INSERT_CHUNK) {
          const chunk = values.slice(i, i + INSERT_CHUNK);
          if (plan.keepExisting) {
            const inserted = (await tx(plan.table)
              .insert(chunk)
              .onConflict(plan.keepExisting)
              .ignore()
              .returning(plan.keepExisting[0]!)) as Row[];
            copied += inserted.length;
          } else {
            await tx(plan.table).insert(chunk);
            copied += chunk.length;
          }
        }
        if (rows.length < PAGE) break;
      }
      tables.push({ table: plan.table, source: sourceRows, copied });
    }
  });
  return { tables };
}
