import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/knex.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { createTestApp, type TestApp } from '../../test-support/harness.js';
import { insertSampleData } from '../maintenance/maintenance.sample.js';
import { RefusedError, verifyRollup } from '../maintenance/maintenance.service.js';
import { copySqliteToPostgres } from './database-copy.service.js';

const NOW = new Date('2026-03-20T15:00:00Z');

async function sums(db: Knex) {
  return db('usage_daily')
    .select(
      db.raw('CAST(SUM(billed_cost_nano_usd) AS TEXT) AS billed'),
      db.raw('CAST(SUM(raw_cost_nano_usd) AS TEXT) AS raw'),
      db.raw('CAST(SUM(requests) AS TEXT) AS requests'),
    )
    .first();
}

describe('copy-to-postgres', () => {
  let source: TestApp;
  let target: TestDatabase;
  let targetDb: Knex;
  beforeAll(async () => {
    source = await createTestApp('sqlite', { now: NOW });
    target = await createTestDatabase('postgres');
    targetDb = createDb(target.database);
  });
  afterAll(async () => {
    await targetDb?.destroy();
    await target?.drop();
    await source?.close();
  });

  it('copies every table in order, exactly, in one go; a second copy is refused', async () => {
    await insertSampleData({
      db: source.db,
      ledger: source.deps.ledger,
      instanceId: 'default',
      billingTimeZone: 'Europe/Warsaw',
      now: NOW,
    });
    // Exact beyond 2^53 nano-USD: the copy never passes an integer through a float.
    await source.db('usage_events').where({ id: 1 }).update({ provider_cost_nano_usd: '9007199254740993' });
    await source.db('audit_log').insert({ at: NOW.toISOString(), actor: 'cli', action: 'test', target_type: 'x' });

    const result = await copySqliteToPostgres(source.db, targetDb);
    for (const table of result.tables) expect(table.copied, table.table).toBe(table.source);
    const events = result.tables.find((table) => table.table === 'usage_events')!;
    expect(events.copied).toBeGreaterThan(500);

    expect(await sums(targetDb)).toEqual(await sums(source.db));
    expect((await verifyRollup(targetDb)).differences).toEqual([]);
    const sourceOrder = await source.db('usage_events').orderBy('id').pluck('event_id');
    expect(await targetDb('usage_events').orderBy('id').pluck('event_id')).toEqual(sourceOrder);
    const big = await targetDb('usage_events').where({ event_id: sourceOrder[0] }).first();
    expect(String(big.provider_cost_nano_usd)).toBe('9007199254740993');
    const org = await targetDb('client_organizations').where({ id: 'org_sample_kowalski' }).first();
    expect(org).toMatchObject({ active: true, is_default: false, name: 'Kowalski & Partners (sample)' });

    await expect(copySqliteToPostgres(source.db, targetDb)).rejects.toThrow(RefusedError);
    expect(await targetDb('usage_events').count({ n: '*' })).toEqual([{ n: String(events.copied) }]);
  });
});
