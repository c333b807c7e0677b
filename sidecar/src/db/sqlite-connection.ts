import type { Knex } from 'knex';
import type { Database, Statement } from 'sqlite3';

/**
 * Direct use of the SQLite connection behind Knex, for the two paths where the number of calls
 * into the driver is the cost: the ledger's group commit and the export's pages. The sqlite3
 * driver runs each call on a thread-pool thread and hands the result back through the event
 * loop, so every statement is a round trip that waits behind the HTTP work queued there. One
 * `exec` runs a whole script (BEGIN … COMMIT) in a single round trip; a prepared statement runs
 * again in one.
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

/** A SELECT prepared once on Knex's SQLite connection, run many times, then finalized. */
export type PreparedSqliteSelect = {
  /** The rows for these bindings. The connection is taken from the pool for the run only. */
  all(bindings: readonly (string | number)[]): Promise<Record<string, unknown>[]>;
  /** Finalizes the statement (after any run still under way). */
  finalize(): Promise<void>;
};

/**
 * For a query run many times in a row (an export's pages). Through Knex, every run prepares the
 * statement, runs it and finalizes it: three calls into the driver, and the run starts only
 * once the event loop has taken the prepare's answer, so a read started ahead waits behind the
 * caller's own work. Here each run is one call, which SQLite works on while the caller goes on.
 */
export function prepareSqliteSelect(db: Knex, sql: string): PreparedSqliteSelect {
  let prepared: { connection: Database; statement: Statement } | null = null;
  let finalized = false;
  const finalizePrepared = async () => {
    const statement = prepared?.statement;
    prepared = null;
    if (statement) await new Promise<void>((resolve) => statement.finalize(() => resolve()));
  };
  return {
    async all(bindings) {
      const connection = (await db.client.acquireConnection()) as Database;
      try {
        // A run still waiting for the connection when the caller finalized must not prepare anew.
        if (finalized) throw new Error('the prepared statement was finalized');
        // The pool may have replaced its connection since (after an error): prepare on this one.
        if (prepared?.connection !== connection) {
          await finalizePrepared();
          prepared = {
            connection,
            statement: await new Promise<Statement>((resolve, reject) => {
              const statement = connection.prepare(sql, (error) => (error ? reject(error) : resolve(statement)));
            }),
          };
        }
        const { statement } = prepared;
        return await new Promise<Record<string, unknown>[]>((resolve, reject) =>
          statement.all([...bindings], (error: Error | null, rows: Record<string, unknown>[]) =>
            error ? reject(error) : resolve(rows),
          ),
        );
      } finally {
        await db.client.releaseConnection(connection);
      }
    },
    async finalize() {
      finalized = true;
      await finalizePrepared();
    },
  };
}
