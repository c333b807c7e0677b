import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';
import { ingestBody } from '../ingest/ingest.schema.js';
import { ledgerInputOf } from '../ingest/ingest.service.js';
import { holdSqliteConnection, sqliteExec } from '../../db/sqlite-connection.js';
import { dailyDeltaOf, findUserOrgs, rowToUsageEvent, sqliteLedgerScript } from './ledger.store.js';

/**
 * On SQLite the ledger keeps Knex's only connection from one group commit to the next, so that a
 * group is handed to SQLite as soon as the one before it is done. Another query waiting for the
 * connection must get it after the group in hand, not once ingest stops.
 */
describe('ledger on SQLite', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite', { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());

  const inputs = (ids: string[]) =>
    ingestBody
      .parse({ events: ids.map((id) => completionEvent({ event_id: id, user: { id: 'steady-user' } })) })
      .events.map(ledgerInputOf);
  const count = async () => Number((await t.db('usage_events').count({ n: '*' }))[0]?.n);

  it('lets a waiting query in between back-to-back groups', async () => {
    // Known to the ledger from here on: its next groups take the one-script path.
    await t.deps.ledger.record(inputs(['gen-steady-first']));
    const before = await count();

    // 12 callers of 500 events: the first is written at once, alone; the other eleven queue
    // behind it (the next group takes ten, 5,000 events, the last group one).
    const callers = Array.from({ length: 12 }, (_, caller) =>
      t.deps.ledger.record(inputs(Array.from({ length: 500 }, (_, i) => `gen-steady-${caller}-${i}`))),
    );
    const between = await count();
    const statuses = (await Promise.all(callers)).flat();

    expect(between - before).toBe(500);
    expect(statuses.filter((status) => status === 'recorded')).toHaveLength(6_000);
    expect((await count()) - before).toBe(6_000);
  });

  it('records an id once when two callers in one group carry it', async () => {
    const first = t.deps.ledger.record(inputs(['gen-twice-lead']));
    // Queued behind the first, so written together in one group.
    const [a, b] = [
      t.deps.ledger.record(inputs(['gen-twice', 'gen-twice-a'])),
      t.deps.ledger.record(inputs(['gen-twice'])),
    ];
    expect(await first).toEqual(['recorded']);
    expect([await a, await b]).toEqual([['recorded', 'recorded'], ['duplicate']]);
    const rows = await t.db('usage_events').where('event_id', 'like', 'gen-twice%').count({ n: '*' });
    expect(Number(rows[0]?.n)).toBe(3);
    const [ledger] = await t.db('usage_events').where({ user_id: 'steady-user' }).count({ n: '*' });
    const [daily] = await t.db('usage_daily').where({ user_id: 'steady-user' }).sum({ requests: 'requests' });
    expect(Number(daily?.requests)).toBe(Number(ledger?.n));
  });

  it('writes callers whose users it knows in one script, not through Knex', async () => {
    await t.deps.ledger.record(inputs(['gen-known-first']));
    const queries: string[] = [];
    const listen = (query: { sql: string }) => queries.push(query.sql);
    t.db.on('query', listen);
    try {
      const statuses = await Promise.all([
        t.deps.ledger.record(inputs(['gen-known-a', 'gen-known-b'])),
        t.deps.ledger.record(inputs(['gen-known-c'])),
      ]);
      expect(statuses).toEqual([['recorded', 'recorded'], ['recorded']]);
    } finally {
      t.db.off('query', listen);
    }
    expect(queries).toEqual([]);
    const rows = await t.db('usage_events').where('event_id', 'like', 'gen-known-%').count({ n: '*' });
    expect(Number(rows[0]?.n)).toBe(4);
  });

  it('writes a group as one script that SQLite runs as written, quotes and all', async () => {
    await t.deps.ledger.record(inputs(['gen-script-template']));
    const template = rowToUsageEvent(await t.db('usage_events').where({ event_id: 'gen-script-template' }).first());
    const model = "vendor/o'model";
    const events = ['gen-script-1', "gen-script-o'2"].map((eventId) => ({
      ...template,
      eventId,
      generationId: eventId,
      model,
    }));
    const users = await findUserOrgs(t.db, t.config.instanceId, ['steady-user']);
    const script = sqliteLedgerScript(
      t.config.instanceId,
      users,
      events,
      events.map(dailyDeltaOf),
      [],
      template.recordedAt,
    );

    const connection = holdSqliteConnection(t.db);
    try {
      await sqliteExec(await connection.acquire(), script);
    } finally {
      await connection.release();
    }
    const stored = await t
      .db('usage_events')
      .whereIn(
        'event_id',
        events.map((event) => event.eventId),
      )
      .orderBy('id');
    expect(stored.map(rowToUsageEvent)).toEqual(events);
    const daily = await t.db('usage_daily').where({ user_id: 'steady-user', model }).first();
    expect(Number(daily.requests)).toBe(2);
    expect(BigInt(daily.raw_cost_nano_usd)).toBe(template.rawCostNanoUsd * 2n);
  });

  it('writes a group that meets an id already recorded through a transaction, nothing twice', async () => {
    await t.deps.ledger.record(inputs(['gen-again-old']));
    const [before] = await t.db('usage_daily').where({ user_id: 'steady-user' }).sum({ requests: 'requests' });

    // The user is known, so the one-script path is tried first; its INSERT meets the old id
    // after two new rows and the whole transaction is rolled back before the fallback runs.
    const statuses = await t.deps.ledger.record(inputs(['gen-again-new-1', 'gen-again-new-2', 'gen-again-old']));
    expect(statuses).toEqual(['recorded', 'recorded', 'duplicate']);
    // The connection is not left inside a transaction: the next group commits.
    expect(await t.deps.ledger.record(inputs(['gen-again-after']))).toEqual(['recorded']);

    const rows = await t.db('usage_events').where('event_id', 'like', 'gen-again-%').count({ n: '*' });
    expect(Number(rows[0]?.n)).toBe(4);
    const [after] = await t.db('usage_daily').where({ user_id: 'steady-user' }).sum({ requests: 'requests' });
    expect(Number(after?.requests) - Number(before?.requests)).toBe(3);
  });
});
