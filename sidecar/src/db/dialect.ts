import type { Knex } from 'knex';
import { prepareSqliteSelect } from './sqlite-connection.js';

/**
 * Everything that differs between SQLite and PostgreSQL lives here. Upserts use
 * `ON CONFLICT … DO UPDATE` with `excluded.*`, which both speak.
 */

export type Db = Knex | Knex.Transaction;

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}

/**
 * SUM of an integer column as exact decimal text: SQLite's SUM over integers is exact int64 but
 * the driver would hand it back as a JS number; PostgreSQL returns numeric as text already.
 */
export function sumText(db: Db, column: string, alias: string): Knex.Raw {
  return db.raw('CAST(COALESCE(SUM(??), 0) AS TEXT) AS ??', [column, alias]);
}

/** Integers are bound as text so no value ever passes through a float on the way in. */
export function intParam(value: bigint): string {
  return value.toString();
}

/** Boolean columns: PostgreSQL has booleans, SQLite stores 0/1. */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** A query run page after page, each page's rows as arrays of values (see openValuesReader). */
export type ValuesReader = {
  read(bindings: readonly (string | number)[]): Promise<unknown[][]>;
  /** Must be called when done, also when stopping early. */
  close(): Promise<void>;
};

/**
 * A query's rows as arrays of values in `columns` order, fetched as ONE JSON value: the sqlite3
 * driver's cost is per value it hands over (rows × columns), which dominates large reads such as
 * exports, and arrays are the cheapest JSON for the database to build and for JSON.parse to read.
 * Integers come back as JSON numbers, exact below 2^53 (9 million USD in nano-USD per value).
 * `select` is the query's SQL, with `?` placeholders for `bindings`, selecting those columns by
 * name. On SQLite the statement is prepared once for all the reads (prepareSqliteSelect).
 */
export function openValuesReader(db: Knex, columns: readonly string[], select: string): ValuesReader {
  const list = columns.join(', ');
  const parse = (page: unknown) => (typeof page === 'string' ? JSON.parse(page) : (page ?? [])) as unknown[][];
  if (isPostgres(db)) {
    const sql = `SELECT COALESCE(json_agg(json_build_array(${list})), '[]'::json) AS page FROM (${select}) AS page_rows`;
    return {
      read: async (bindings) => parse(((await db.raw(sql, bindings)) as { rows: { page: unknown }[] }).rows[0]?.page),
      close: async () => undefined,
    };
  }
  const statement = prepareSqliteSelect(
    db,
    `SELECT json_group_array(json_array(${list})) AS page FROM (${select}) AS page_rows`,
  );
  return {
    read: async (bindings) => parse((await statement.all(bindings))[0]?.page),
    close: () => statement.finalize(),
  };
}

/**
 * Whether an error says the schema is not what the query expected (a table or column missing):
 * SQLite words it in the message, PostgreSQL gives SQLSTATE 42P01 (undefined table) or 42703
 * (undefined column). The ledger then stores usage through its backlog instead of failing.
 */
export function isSchemaError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '42P01' || code === '42703') return true;
  const message = error instanceof Error ? error.message : String(error);
  return /no such table|no such column|has no column named/i.test(message);
}
