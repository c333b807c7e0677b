import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import type { Config } from '../config.js';

/**
 * The real databases tests run against: a SQLite file and the PostgreSQL server on this machine
 * (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). Each test database is
 * created fresh and dropped afterwards. PostgreSQL not answering fails the tests; it never skips.
 */

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type TestDatabase = { name: 'sqlite' | 'postgres'; database: Config['database']; drop(): Promise<void> };

export const databaseKinds = ['sqlite', 'postgres'] as const;

export async function createTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mai-usage-test-'));
    return {
      name: 'sqlite',
      database: { client: 'sqlite', path: join(dir, 'test.db') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const dbName = `mai_test_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: TEST_PG_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${dbName}`);
  } catch (error) {
    await admin.destroy();
    throw new Error(`PostgreSQL at ${TEST_PG_URL} is required for the tests and did not answer: ${String(error)}`, {
      cause: error,
    });
  }
  await admin.destroy();
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${dbName}`;
  return {
    name: 'postgres',
    database: { client: 'pg', url: url.toString() },
    drop: async () => {
      const cleanup = knex({ client: 'pg', connection: TEST_PG_URL, pool: { min: 0, max: 1 } });
      await cleanup.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await cleanup.destroy();
    },
  };
}
