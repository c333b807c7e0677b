import type { Knex } from 'knex';
import type { Database } from 'sqlite3';

/**
 * Direct use of the SQLite connection behind Knex, for the one path where the number of calls
 * into the driver is the cost: the ledger's group commit. The sqlite3 driver runs each call on
 * a thread-pool thread and hands the result back through the event loop, so every statement is
 * a round trip that waits behind the HTTP work queued there. One `exec` runs a whole script
 * (BEGIN … COMMIT) in a single round trip.
 */

export type HeldSqliteConnection = {
  /** The connection if held now: a caller can then hand it work without waiting a turn. */
  held(): Database | null;
  /** Knex's only SQLite connection, taken from its pool unless already held. */
  acquire(): Promise<Database>;
  /** Gives the connection back to the pool (nothing of this process runs SQL while it is held). */
  release(): Promise<void>;
  /** Whether another caller waits in the pool for the connection. */
  othersWaiting(): boolean;
};

/**
 * Holds Knex's SQLite connection across consecutive uses, so that back-to-back scripts do not
 * each go through the pool (a chain of promise steps that waits behind every answer queued
 * before it). The holder must not run Knex queries itself while it holds the connection: they
 * would wait for it.
 */
export function holdSqliteConnection(db: Knex): HeldSqliteConnection {
  let connection: Database | null = null;
  return {
    held: () => connection,
    async acquire() {
      connection ??= (await db.client.acquireConnection()) as Database;
      return connection;
    },
    async release() {
      if (connection === null) return;
      const releasing = connection;
      connection = null;
      await db.client.releaseConnection(releasing);
    },
    othersWaiting() {
      const pool = db.client.pool;
      return pool !== undefined && 'numPendingAcquires' in pool && pool.numPendingAcquires() > 0;
    },
  };
}

/** Runs several statements in one call; stops at the first that fails (a transaction stays open). */
export function sqliteExec(connection: Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => connection.exec(sql, (error) => (error ? reject(error) : resolve())));
}
