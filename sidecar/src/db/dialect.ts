import type { Knex } from 'knex';

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

/**
 * A query's rows as arrays of values in `columns` order, fetched as ONE JSON value: the sqlite3
 * driver's cost is per value it hands over (rows × columns), which dominates large reads such as
 * exports, and arrays are the cheapest JSON for the database to build and for JSON.parse to read.
 * Integers come back as JSON numbers, exact below 2^53 (9 million USD in nano-USD per value).
 * `select` is the query's SQL, with `?` placeholders for `bindings`, selecting those columns by name.
 */
export async function selectValuesAsJson(
  db: Db,
  columns: readonly string[],
  select: string,
  bindings: readonly (string | number)[],
): Promise<unknown[][]> {
  const postgres = isPostgres(db);
  const list = columns.join(', ');
  const sql = postgres
    ? `SELECT COALESCE(json_agg(json_build_array(${list})), '[]'::json) AS page FROM (${select}) AS page_rows`
    : `SELECT json_group_array(json_array(${list})) AS page FROM (${select}) AS page_rows`;
  const result: unknown = await db.raw(sql, bindings);
  const row = (postgres ? (result as { rows: { page: unknown }[] }).rows : (result as { page: unknown }[]))[0];
  return (typeof row?.page === 'string' ? JSON.parse(row.page) : (row?.page ?? [])) as unknown[][];
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
