import type { Knex } from 'knex';

/**
 * The ledger's backlog: usage stored while migrations could not run (DESIGN §2). A sidecar
 * running degraded may have created it already with the same CREATE … IF NOT EXISTS
 * (features/ledger/ledger.backlog.ts); this creates it when it has not, so every database has it.
 * Written out here rather than imported, so this migration never changes after it lands.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE TABLE IF NOT EXISTS ledger_backlog (' +
      'event_key TEXT PRIMARY KEY, instance_id TEXT NOT NULL, input TEXT NOT NULL, received_at TEXT NOT NULL)',
  );
  await knex.raw(
    'CREATE INDEX IF NOT EXISTS ledger_backlog_instance_received ON ledger_backlog (instance_id, received_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('ledger_backlog');
}
