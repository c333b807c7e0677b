import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { createDb } from './knex.js';
import { migrateLatest } from './migrator.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../test-support/databases.js';

const tables = [
  'global_settings',
  'client_organizations',
  'user_client_mappings',
  'usage_events',
  'usage_daily',
  'generation_starts',
  'audit_log',
  'exchange_rates',
  'cost_lookups',
  'reconciliations',
  'limit_alerts',
  'ledger_backlog',
];

describe.each(databaseKinds)('migrations on %s', (kind) => {
  let database: TestDatabase;
  let db: Knex;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = createDb(database.database);
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('creates every table, rolls back to nothing and migrates again', async () => {
    await db.migrate.latest();
    for (const table of tables) expect(await db.schema.hasTable(table), table).toBe(true);
    await db.migrate.rollback(undefined, true);
    for (const table of tables) expect(await db.schema.hasTable(table), table).toBe(false);
    await db.migrate.latest();
    const [, pending] = await db.migrate.list();
    expect(pending).toEqual([]);
  });

  it('enforces one ledger row per event_id at the database level', async () => {
    const row = {
      event_id: 'gen-unique',
      source: 'filter',
      client_org_id: 'org',
      user_id: 'u',
      model: 'm',
      channel: 'ui',
      occurred_at: '2026-01-01T00:00:00.000Z',
      usage_day: '2026-01-01',
      input_tokens: 1,
      output_tokens: 1,
      cost_status: 'reported',
      raw_cost_nano_usd: '1',
      markup_rate_ppm: '1300000',
      billed_cost_nano_usd: '1',
      recorded_at: '2026-01-01T00:00:00.000Z',
    };
    await db('usage_events').insert(row);
    await expect(db('usage_events').insert(row)).rejects.toThrow(/unique|UNIQUE/);
  });

  it('keeps 64-bit money exactly: a sum past 2^53 nano-USD reads back exact', async () => {
    const big = 9_007_199_254_740_993n; // 2^53 + 1
    await db('usage_daily').insert({
      client_org_id: 'org',
      usage_day: '2026-01-01',
      user_id: 'u',
      model: 'm',
      requests: 1,
      input_tokens: 0,
      output_tokens: 0,
      cached_tokens: 0,
      reasoning_tokens: 0,
      raw_cost_nano_usd: big.toString(),
      billed_cost_nano_usd: '0',
      pending_cost_requests: 0,
      updated_at: 'x',
    });
    const [row] = await db('usage_daily').select(db.raw('CAST(SUM(raw_cost_nano_usd) AS TEXT) AS total'));
    expect(String((row as { total: unknown }).total)).toBe(big.toString());
  });

  it('serves the ops views named like the old tables from the rollup', async () => {
    const rows = await db('client_daily_usage').select();
    expect(rows.length).toBeGreaterThan(0);
  });
});

describe('migrations on a shared PostgreSQL', () => {
  let database: TestDatabase;
  const sidecars: Knex[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // One Knex each, as separate sidecar processes would have: their own connections.
    for (let i = 0; i < 4; i += 1) sidecars.push(createDb(database.database));
  });
  afterAll(async () => {
    await Promise.all(sidecars.map((db) => db.destroy()));
    await database?.drop();
  });

  it('sidecars starting together on a fresh database take turns: each migration runs once, none fails', async () => {
    const applied = await Promise.all(sidecars.map((db) => migrateLatest(db)));
    const db = sidecars[0]!;
    const names = (await db('knex_migrations').pluck('name')) as string[];
    expect(applied.flat().sort()).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(await db('knex_migrations_lock').select('is_locked')).toEqual([{ is_locked: 0 }]);
  });

  // Either state makes plain Knex refuse to migrate until someone repairs it by hand.
  it.each([
    ['left locked by a migrator that died', [{ is_locked: 1 }]],
    ['doubled by two migrators starting together', [{ is_locked: 0 }, { is_locked: 0 }]],
  ])('repairs a Knex lock %s, then migrates', async (_state, rows) => {
    const db = sidecars[0]!;
    await db.migrate.down();
    await db('knex_migrations_lock').delete();
    await db('knex_migrations_lock').insert(rows);
    await expect(db.migrate.latest()).rejects.toThrow(/already locked/);

    expect(await migrateLatest(sidecars[1]!)).toHaveLength(1);
    expect(await db('knex_migrations_lock').select('is_locked')).toEqual([{ is_locked: 0 }]);
    expect((await db.migrate.list())[1]).toEqual([]);
  });
});
