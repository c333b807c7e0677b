import type { Knex } from 'knex';
import * as baseline from './20261123000000_baseline.js';
import * as exchangeRates from './20261123010000_exchange_rates.js';
import * as reconciliation from './20261123020000_reconciliation.js';
import * as adminMarkup from './20261123030000_admin_markup.js';
import * as ledgerBacklog from './20261123050000_ledger_backlog.js';
import * as leanLedgerIndexes from './20261207000000_lean_ledger_indexes.js';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

/** Every migration, in order. Add new files here; never edit one that has landed. */
const migrations: Record<string, Migration> = {
  '20261123000000_baseline': baseline,
  '20261123010000_exchange_rates': exchangeRates,
  '20261123020000_reconciliation': reconciliation,
  '20261123030000_admin_markup': adminMarkup,
  '20261123050000_ledger_backlog': ledgerBacklog,
  '20261207000000_lean_ledger_indexes': leanLedgerIndexes,
};

/** Imported modules rather than a directory scan, so the same list works from .ts and from dist. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
