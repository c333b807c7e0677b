import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import type { Config } from '../config.js';
import { WRITER_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { migrationSource } from './migrations/index.js';

type SqliteConnection = {
  run(sql: string, callback: (error: Error | null) => void): void;
};

function runPragmas(connection: SqliteConnection, done: (error: Error | null, c: unknown) => void) {
  // WAL lets dashboards read while ingest writes; NORMAL sync is durable across process crashes
  // (the WAL is fsynced at checkpoints); busy_timeout covers the CLI or a backup touching the file.
  // Checkpoints are the background checkpointer's; the writer takes one only past its own limit.
  const pragmas = [
    'PRAGMA journal_mode = WAL',
    'PRAGMA synchronous = NORMAL',
    'PRAGMA foreign_keys = ON',
    'PRAGMA busy_timeout = 5000',
    `PRAGMA wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`,
  ];
  const next = (index: number): void => {
    const sql = pragmas[index];
    if (sql === undefined) return done(null, connection);
    connection.run(sql, (error) => (error ? done(error, connection) : next(index + 1)));
  };
  next(0);
}

export function knexConfig(database: Config['database']): Knex.Config {
  const migrations = { migrationSource, tableName: 'knex_migrations' };
  if (database.client === 'pg') {
    return { client: 'pg', connection: database.url, pool: { min: 0, max: 10 }, migrations };
  }
  return {
    client: 'sqlite3',
    connection: { filename: database.path },
    useNullAsDefault: true,
    // One connection: SQLite has one writer anyway, and it keeps transactions serialised.
    pool: { min: 1, max: 1, afterCreate: runPragmas },
    migrations,
  };
}

export function createDb(database: Config['database']): Knex {
  if (database.client === 'sqlite' && database.path !== ':memory:') {
    mkdirSync(dirname(database.path), { recursive: true });
  }
  return knex(knexConfig(database));
}
