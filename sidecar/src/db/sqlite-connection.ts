import type { Knex } from 'knex';
import type { Database } from 'sqlite3';

/**
 * Direct use of the SQLite connection behind Knex, for the one path where the number of calls
 * into the driver is the cost: the ledger's group commit. The sqlite3 driver runs each call on
 * a thread-pool thread and hands the result back through the event loop, so every statement is
 * a round trip that waits behind the HTTP work queued there. One `exec` runs a whole script
 * (BEGIN … COMMIT) in a single round trip.
 */

/** Runs `use` holding Knex's only SQLite connection: nothing else of this process runs SQL meanwhile. */
export async function withSqliteConnection<T>(db: Knex, use: (connection: Database) => Promise<T>): Promise<T> {
  const connection = (await db.client.acquireConnection()) as Database;
  try {
    return await use(connection);
  } finally {
    await db.client.releaseConnection(connection);
  }
}

/** Runs several statements in one call; stops at the first that fails (a transaction stays open). */
export function sqliteExec(connection: Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => connection.exec(sql, (error) => (error ? reject(error) : resolve())));
}
