import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';
import { duePendingEvents, hasCompletionFor, ledgerSpendByUtc } from './reconciliation.store.js';

const DAY = { from: '2026-03-28T00:00:00.000Z', to: '2026-03-29T00:00:00.000Z' };
// Costs in nano-USD chosen so that every subset has its own sum.
const INSIDE = [
  ['2026-03-28T00:00:00.000Z', 1n],
  ['2026-03-28T00:30:00.000Z', 2n],
  ['2026-03-28T12:00:00.000Z', 4n],
  ['2026-03-28T23:30:00.000Z', 8n],
  ['2026-03-28T23:59:59.999Z', 16n],
] as const;
const OUTSIDE = [
  ['2026-03-27T23:30:00.000Z', 32n],
  ['2026-03-27T23:59:59.999Z', 64n],
  ['2026-03-29T00:00:00.000Z', 128n],
  ['2026-03-29T00:30:00.000Z', 256n],
] as const;

// Warsaw (the default; its DST starts on 2026-03-29), and the zones furthest ahead of and behind
// UTC, where an event's local day is the UTC date's neighbour for most of the day.
describe.each(databaseKinds)('reconciliation store on %s', (kind) => {
  describe.each(['Europe/Warsaw', 'Pacific/Kiritimati', 'Pacific/Pago_Pago'])('billing in %s', (zone) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind, { env: { BILLING_TIMEZONE: zone } });
      const events = [...INSIDE, ...OUTSIDE].map(([at, nano]) =>
        completionEvent({
          occurred_at: at,
          usage: { input_tokens: 1, output_tokens: 1, cost_usd: Number(nano) / 1e9 },
        }),
      );
      await t.ingest({ events }).expect(200);
    });
    afterAll(async () => t?.close());

    it('sums the ledger between two UTC instants exactly, whatever local day the events fell on', async () => {
      const { client_org_id: orgId } = await t.db('usage_events').first('client_org_id');
      // The zone put events of this UTC day on another local day: the read has to look around it.
      const days: string[] = await t
        .db('usage_events')
        .whereIn(
          'occurred_at',
          INSIDE.map(([at]) => at),
        )
        .distinct('usage_day')
        .pluck('usage_day');
      expect(days.some((day) => day !== '2026-03-28')).toBe(true);

      const spend = await ledgerSpendByUtc(t.db, orgId, DAY.from, DAY.to);
      expect([...spend.values()]).toEqual([{ rawNanoUsd: 1n + 2n + 4n + 8n + 16n, requests: INSIDE.length }]);
    });
  });

  describe('look-ups', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
      await t
        .ingest({
          events: [
            completionEvent({ event_id: 'gen-as-id', generation_id: 'gen-as-id' }),
            completionEvent({ event_id: 'msg-derived-1', generation_id: 'gen-beside' }),
            completionEvent({ event_id: 'msg-derived-2' }),
            completionEvent({ event_id: 'gen-pending', usage: { input_tokens: 5, output_tokens: 5 } }),
          ],
        })
        .expect(200);
    });
    afterAll(async () => t?.close());

    it('finds a completion by generation id, as its event id or carried beside another', async () => {
      expect(await hasCompletionFor(t.db, 'gen-as-id')).toBe(true);
      expect(await hasCompletionFor(t.db, 'gen-beside')).toBe(true);
      expect(await hasCompletionFor(t.db, 'msg-derived-1')).toBe(true);
      expect(await hasCompletionFor(t.db, 'gen-never-seen')).toBe(false);
    });

    it('queues only the events whose cost is pending', async () => {
      const due = await duePendingEvents(t.db, new Date().toISOString(), 10);
      expect(due.map((event) => event.eventId)).toEqual(['gen-pending']);
    });

    // A ledger of a million rows must not be scanned for these: each read names its index.
    if (kind === 'sqlite')
      it('reads through the indexes the ledger keeps', async () => {
        const { client_org_id: orgId } = await t.db('usage_events').first('client_org_id');
        const plans = async (read: () => Promise<unknown>) => plansOf(t.db, read);
        expect(await plans(() => ledgerSpendByUtc(t.db, orgId, DAY.from, DAY.to))).toMatch(
          /usage_events USING INDEX usage_events_client_org_id_usage_day_index/,
        );
        expect(await plans(() => hasCompletionFor(t.db, 'gen-beside'))).toMatch(
          /INDEX usage_events_event_id_unique[\s\S]*INDEX usage_events_generation_id_apart/,
        );
        expect(await plans(() => duePendingEvents(t.db, new Date().toISOString(), 10))).toMatch(
          /usage_events_pending_cost/,
        );
      });
  });
});

/** The SQLite query plans of every statement a read sends, one after another. */
async function plansOf(db: Knex, read: () => Promise<unknown>): Promise<string> {
  const sent: { sql: string; bindings: readonly Knex.Value[] }[] = [];
  const listen = (query: { sql: string; bindings?: readonly Knex.Value[] }) =>
    sent.push({ sql: query.sql, bindings: query.bindings ?? [] });
  db.on('query', listen);
  try {
    await read();
  } finally {
    db.off('query', listen);
  }
  const details: string[] = [];
  for (const { sql, bindings } of sent) {
    const rows = (await db.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings)) as { detail: string }[];
    details.push(...rows.map((row) => row.detail));
  }
  return details.join('\n');
}
