import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Database } from 'sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDb } from './knex.js';
import { prepareSqliteSelect } from './sqlite-connection.js';

/** Closes Knex's one SQLite connection directly: SQLite refuses while a statement is left unfinalized. */
async function closeConnection(db: Knex): Promise<void> {
  const connection = (await db.client.acquireConnection()) as Database;
  try {
    await new Promise<void>((resolve, reject) => connection.close((error) => (error ? reject(error) : resolve())));
  } finally {
    await db.client.releaseConnection(connection);
  }
}

describe('prepareSqliteSelect', () => {
  let dir: string;
  let db: Knex;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mai-usage-prepared-'));
    db = createDb({ client: 'sqlite', path: join(dir, 'test.db') });
    await db.schema.createTable('numbers', (table) => table.integer('n').primary());
    await db('numbers').insert(Array.from({ length: 10 }, (_, n) => ({ n })));
  });
  afterEach(async () => {
    await db.destroy().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs one statement many times, between other queries on the same connection', async () => {
    const select = prepareSqliteSelect(db, 'SELECT n FROM numbers WHERE n > ? ORDER BY n LIMIT ?');
    expect(await select.all([2, 3])).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
    await db('numbers').insert({ n: 10 });
    const [later, counted] = await Promise.all([select.all([8, 5]), db('numbers').count({ c: '*' })]);
    expect(later).toEqual([{ n: 9 }, { n: 10 }]);
    expect(counted).toEqual([{ c: 11 }]);
    await select.finalize();
    await expect(closeConnection(db)).resolves.toBeUndefined();
  });

  it('leaves nothing open once finalized; an unfinalized statement keeps the connection from closing', async () => {
    const left = prepareSqliteSelect(db, 'SELECT n FROM numbers WHERE n = ?');
    expect(await left.all([1])).toEqual([{ n: 1 }]);
    await expect(closeConnection(db)).rejects.toThrow(/unfinalized statements/);
    await left.finalize();
    await expect(closeConnection(db)).resolves.toBeUndefined();
  });

  it('a run still waiting for the connection when finalized fails instead of preparing a statement left open', async () => {
    const select = prepareSqliteSelect(db, 'SELECT n FROM numbers WHERE n = ?');
    expect(await select.all([1])).toEqual([{ n: 1 }]);
    const late = select.all([2]);
    await select.finalize();
    await expect(late).rejects.toThrow(/finalized/);
    await expect(closeConnection(db)).resolves.toBeUndefined();
  });

  it('reports a bad statement as an error and leaves the connection usable', async () => {
    const bad = prepareSqliteSelect(db, 'SELECT missing FROM numbers');
    await expect(bad.all([])).rejects.toThrow(/no such column: missing/);
    await bad.finalize();
    expect(await db('numbers').max({ n: 'n' })).toEqual([{ n: 9 }]);
  });
});
