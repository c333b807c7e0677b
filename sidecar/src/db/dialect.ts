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
