/**
 * The ceiling for the database side: how many rows per second the `sqlite3` driver itself inserts
 * into a table shaped exactly like usage_events (its DDL and indexes are copied from the
 * sidecar's migrated database, UNIQUE event_id included), with multi-row INSERTs through one
 * reused prepared statement, in transactions, journal_mode=WAL, synchronous=NORMAL. No Knex, no
 * HTTP, no rollup.
 */
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { MODELS, makeUsers, rng } from './fleet.js';
import { USAGE_EVENT_COLUMNS } from '../sidecar/src/features/ledger/ledger.store.js';

export type RawInsertResult = {
  rows: number;
  seconds: number;
  rows_per_s: number;
  rows_per_statement: number;
  rows_per_transaction: number;
};

type SqlValue = string | number | null;

function open(path: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (error) => (error ? reject(error) : resolve(db)));
  });
}

function exec(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())));
}

function all(db: sqlite3.Database, sql: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) =>
    db.all(sql, (error: Error | null, rows: Record<string, unknown>[]) => (error ? reject(error) : resolve(rows))),
  );
}

function close(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
}

/** CREATE TABLE and CREATE INDEX statements of usage_events, read from a migrated database. */
export async function usageEventsDdl(databasePath: string): Promise<string[]> {
  const db = await open(databasePath);
  try {
    const rows = await all(
      db,
      "SELECT sql FROM sqlite_master WHERE tbl_name = 'usage_events' AND sql IS NOT NULL ORDER BY type DESC",
    );
    return rows.map((row) => String(row.sql));
  } finally {
    await close(db);
  }
}

// Exactly the ledger's columns, so the ceiling inserts the same row shape.
const COLUMNS = USAGE_EVENT_COLUMNS;

/** Rows bound the way the ledger binds them (money as integer text, ids as text). */
function rowMaker(): (index: number) => SqlValue[] {
  const users = makeUsers();
  const random = rng(99);
  const start = Date.now() - 86_400_000;
  return (index) => {
    const user = users[Math.floor(random() * users.length)]!;
    const at = new Date(start + index * 10);
    const id = `gen-${Math.floor(at.getTime() / 1000)}-${Math.floor(random() * 1e12).toString(36)}raw${index.toString(36)}`;
    const raw = Math.floor(random() * 5_000_000);
    return [
      id,
      'filter',
      `org_${user.org}`,
      user.id,
      MODELS[Math.floor(random() * MODELS.length)]!,
      'ui',
      at.toISOString(),
      at.toISOString().slice(0, 10),
      1000 + (index % 900),
      300 + (index % 700),
      0,
      0,
      'reported',
      String(raw),
      null,
      0,
      String(raw),
      '1300000',
      String(Math.round(raw * 1.3)),
      id,
      `chat-${index % 97}`,
      `msg-${index}`,
      null,
      null,
      at.toISOString(),
    ];
  };
}

export async function measureRawInsert(
  dir: string,
  ddl: string[],
  options: { rows: number; rowsPerStatement: number; rowsPerTransaction: number },
): Promise<RawInsertResult> {
  const db = await open(join(dir, 'raw-insert.db'));
  await exec(db, 'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  for (const sql of ddl) await exec(db, sql);

  const placeholders = `(${COLUMNS.map(() => '?').join(',')})`;
  const sql = `INSERT INTO usage_events (${COLUMNS.join(',')}) VALUES ${Array.from(
    { length: options.rowsPerStatement },
    () => placeholders,
  ).join(',')}`;
  const statement = await new Promise<sqlite3.Statement>((resolve, reject) => {
    const prepared: sqlite3.Statement = db.prepare(sql, (error: Error | null) =>
      error ? reject(error) : resolve(prepared),
    );
  });
  const run = (params: SqlValue[]) =>
    new Promise<void>((resolve, reject) =>
      statement.run(params, (error: Error | null) => (error ? reject(error) : resolve())),
    );

  const makeRow = rowMaker();
  const statementsPerTransaction = Math.ceil(options.rowsPerTransaction / options.rowsPerStatement);
  const transactions = Math.ceil(options.rows / (statementsPerTransaction * options.rowsPerStatement));
  let index = 0;
  let busyNs = 0n;
  for (let t = 0; t < transactions; t++) {
    // Row values are built outside the timed part: the ceiling is the driver and SQLite.
    const batches: SqlValue[][] = [];
    for (let s = 0; s < statementsPerTransaction; s++) {
      const params: SqlValue[] = [];
      for (let r = 0; r < options.rowsPerStatement; r++) params.push(...makeRow(index++));
      batches.push(params);
    }
    const started = process.hrtime.bigint();
    await exec(db, 'BEGIN');
    for (const params of batches) await run(params);
    await exec(db, 'COMMIT');
    busyNs += process.hrtime.bigint() - started;
  }
  await new Promise<void>((resolve, reject) => statement.finalize((error) => (error ? reject(error) : resolve())));
  await close(db);
  const seconds = Number(busyNs) / 1e9;
  return {
    rows: index,
    seconds: Math.round(seconds * 100) / 100,
    rows_per_s: Math.round(index / seconds),
    rows_per_statement: options.rowsPerStatement,
    rows_per_transaction: statementsPerTransaction * options.rowsPerStatement,
  };
}
