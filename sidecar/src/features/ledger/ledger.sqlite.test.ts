import type { Database } from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';
import { ingestBody } from '../ingest/ingest.schema.js';
import { ledgerInputOf } from '../ingest/ingest.service.js';
import { holdSqliteConnection, sqliteExec } from '../../db/sqlite-connection.js';
import type { LedgerInput } from './ledger.service.js';
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

  // Parsed as the ingest route would, 500 events (a request's most) at a time.
  const inputs = (ids: string[]): LedgerInput[] =>
    ids.length > 500
      ? [...inputs(ids.slice(0, 500)), ...inputs(ids.slice(500))]
      : ingestBody
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

  /**
   * Records, in order, each ledger script handed to the driver and each the driver finished,
   * named by its first event id, on the sidecar's real connection (calls go through unchanged).
   * With `holdFirst`, the first script reaches the driver only once the next one is handed over
   * (or after a second), so a script that fails at once is still running when the next comes.
   */
  async function watchScripts(holdFirst = false) {
    const connection = (await t.db.client.acquireConnection()) as Database;
    await t.db.client.releaseConnection(connection);
    const exec = connection.exec;
    const log: string[] = [];
    const firstId = (sql: string) => /INTO usage_events \([^)]*\) VALUES \('([^']+)'/.exec(sql)?.[1];
    let started = () => undefined as void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    let held: (() => void) | null = null;
    connection.exec = function (this: Database, sql: string, callback?: (error: Error | null) => void) {
      const id = firstId(sql);
      if (id === undefined) return exec.call(this, sql, callback);
      log.push(`start ${id}`);
      const run = () =>
        exec.call(this, sql, (error) => {
          log.push(`${error ? 'failed' : 'done'} ${id}`);
          callback?.(error);
        });
      if (holdFirst && log.length === 1) {
        const timer = setTimeout(() => held?.(), 1_000);
        held = () => {
          held = null;
          clearTimeout(timer);
          run();
        };
      } else {
        held?.();
        run();
      }
      started();
      return this;
    } as Database['exec'];
    return { log, firstStarted, stop: () => (connection.exec = exec) };
  }

  const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const dailyMatchesLedger = async () => {
    const [ledger] = await t.db('usage_events').where({ user_id: 'steady-user' }).count({ n: '*' });
    const [daily] = await t.db('usage_daily').where({ user_id: 'steady-user' }).sum({ requests: 'requests' });
    expect(Number(daily?.requests)).toBe(Number(ledger?.n));
  };
  /** The ledger holds `n` rows whose ids start with `prefix`, and usage_daily adds up to it. */
  const expectStored = async (prefix: string, n: number) => {
    const rows = await t.db('usage_events').where('event_id', 'like', `${prefix}%`).count({ n: '*' });
    expect(Number(rows[0]?.n)).toBe(n);
    await dailyMatchesLedger();
  };

  it("hands the next group's script to SQLite before the running one is done", async () => {
    await t.deps.ledger.record(inputs(['gen-ahead-warm']));
    const watch = await watchScripts();
    try {
      const a = t.deps.ledger.record(inputs(many('gen-ahead-a', 2_000)));
      await watch.firstStarted;
      const b = t.deps.ledger.record(inputs(['gen-ahead-b-1', 'gen-ahead-b-2']));
      const statuses = [...(await a), ...(await b)];
      expect(statuses.filter((status) => status === 'recorded')).toHaveLength(2_002);
    } finally {
      watch.stop();
    }
    expect(watch.log.slice(0, 4)).toEqual([
      'start gen-ahead-a-0',
      'start gen-ahead-b-1',
      'done gen-ahead-a-0',
      'done gen-ahead-b-1',
    ]);
    await expectStored('gen-ahead-', 2_003);
  });

  it('writes the group given ahead once when the running group fails, and the failed group through a transaction', async () => {
    await t.deps.ledger.record(inputs(['gen-fails-old']));
    const watch = await watchScripts(true);
    try {
      // The running group meets an id already recorded at its end; the next waits behind it.
      const a = t.deps.ledger.record(inputs([...many('gen-fails-a', 1_000), 'gen-fails-old']));
      await watch.firstStarted;
      const b = t.deps.ledger.record(inputs(['gen-fails-b']));
      const statusesA = await a;
      expect(statusesA.slice(0, 1_000).every((status) => status === 'recorded')).toBe(true);
      expect(statusesA[1_000]).toBe('duplicate');
      expect(await b).toEqual(['recorded']);
    } finally {
      watch.stop();
    }
    // Given to the driver while the first ran; committed after it failed.
    expect(watch.log.slice(0, 4)).toEqual([
      'start gen-fails-a-0',
      'start gen-fails-b',
      'failed gen-fails-a-0',
      'done gen-fails-b',
    ]);
    await expectStored('gen-fails-', 1_002);
  });

  it('writes both groups at the new markup when a markup changes under the running script', async () => {
    await t.deps.ledger.record(inputs(['gen-stale-warm']));
    const user = await t.db('user_client_mappings').where({ user_id: 'steady-user' }).first();
    const org = await t.db('client_organizations').where({ id: user.client_org_id }).first();
    const markup = BigInt(org.markup_rate_ppm) + 100_000n;
    // The ledger still remembers the old markup: its script's check stops the transaction it
    // opened, and the group given ahead of it meets that open transaction.
    await t
      .db('client_organizations')
      .where({ id: org.id })
      .update({ markup_rate_ppm: String(markup) });
    const watch = await watchScripts(true);
    try {
      const a = t.deps.ledger.record(inputs(many('gen-stale-a', 500)));
      await watch.firstStarted;
      const b = t.deps.ledger.record(inputs(['gen-stale-b']));
      expect([...(await a), ...(await b)].every((status) => status === 'recorded')).toBe(true);
    } finally {
      watch.stop();
    }
    expect(watch.log.slice(0, 4)).toEqual([
      'start gen-stale-a-0',
      'start gen-stale-b',
      'failed gen-stale-a-0',
      'failed gen-stale-b',
    ]);
    const stored = await t
      .db('usage_events')
      .where('event_id', 'like', 'gen-stale-%')
      .whereNot({ event_id: 'gen-stale-warm' });
    expect(stored).toHaveLength(501);
    expect(stored.every((row) => BigInt(row.markup_rate_ppm) === markup)).toBe(true);
    await dailyMatchesLedger();
  });
});
