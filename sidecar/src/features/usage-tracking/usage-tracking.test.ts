import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeNbp, type FakeNbp } from '../../../../test/fakes/nbp/fake-nbp.js';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/usage-tracking';
const NOW = '2026-03-10T12:00:00Z'; // 13:00 in Warsaw
const ORG_KEY = 'sk-or-v1-webhook0123456789abcdef0123456789abcdef01234567';

/** The seeds' webhook body. */
const seedWebhook = (overrides: Record<string, unknown> = {}) => ({
  api_key: ORG_KEY,
  model: 'deepseek-ai/deepseek-v3',
  tokens_used: 1000,
  cost: 0.002,
  timestamp: '2026-03-10T10:00:00Z',
  external_user: 'user_123',
  ...overrides,
});

async function eventsOf(t: TestApp, where: Record<string, unknown>) {
  return t.db('usage_events').where(where).select();
}

describe.each(databaseKinds)('usage tracking on %s', (kind) => {
  let t: TestApp;
  let nbp: FakeNbp;
  let orgId: string;
  let otherId: string;
  beforeAll(async () => {
    let clock = () => new Date(NOW);
    // Table C ask 4.0123 on 10 March, so PLN can be worked out by hand.
    nbp = await createFakeNbp({ now: () => clock(), rates: { C: { '2026-03-10': { bid: '3.9300', ask: '4.0123' } } } });
    t = await createTestApp(kind, { now: NOW, env: { NBP_API_BASE: nbp.url } });
    clock = t.deps.now;
    const org = await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/clients')
      .send({ name: 'Webhook Co', markup_rate: '1.5', openrouter_api_key: ORG_KEY })
      .expect(201);
    orgId = org.body.id;
    await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/user-mappings')
      .send({ user_id: 'user-1', client_org_id: orgId })
      .expect(201);
    const other = await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/clients')
      .send({ name: 'Elsewhere', instance_id: 'other' })
      .expect(201);
    otherId = other.body.id;
  });
  afterAll(async () => {
    await t?.close();
    await nbp?.close();
  });

  describe('real-time', () => {
    it('answers the seeds shape with zeros before any usage', async () => {
      const res = await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/${orgId}`).expect(200);
      expect(res.body).toMatchObject({
        client_org_id: orgId,
        date: '2026-03-10',
        tokens: 0,
        requests: 0,
        cost: 0,
        last_updated: null,
      });
    });

    it("sums today's usage of the org, with last_updated in Unix seconds", async () => {
      await t
        .ingest({
          events: [
            completionEvent({
              event_id: 'gen-rt-1',
              occurred_at: '2026-03-10T08:00:00Z',
              usage: { input_tokens: 1200, output_tokens: 51, cost_usd: '0.0006' },
            }),
            completionEvent({
              event_id: 'gen-rt-2',
              occurred_at: '2026-03-10T09:00:00Z',
              usage: { input_tokens: 400, output_tokens: 100, cost_usd: '0.0004' },
            }),
            // Yesterday in Warsaw (22:59 UTC on the 9th is 23:59 CET): not today.
            completionEvent({
              event_id: 'gen-rt-old',
              occurred_at: '2026-03-09T22:59:00Z',
              usage: { input_tokens: 7, output_tokens: 7, cost_usd: 1 },
            }),
          ],
        })
        .expect(200);
      const res = await t.as('owui-user-token').get(`${BASE}/usage/real-time/${orgId}`).expect(200);
      expect(Object.keys(res.body)).toEqual(
        expect.arrayContaining(['client_org_id', 'date', 'tokens', 'requests', 'cost', 'last_updated']),
      );
      expect(res.body).toMatchObject({
        client_org_id: orgId,
        date: '2026-03-10',
        tokens: 1751,
        requests: 2,
        cost: 0.0015, // (0.0006 + 0.0004) × 1.5
        cost_nano_usd: '1500000',
        // 0.0015 USD × 4.0123 = 0.00601845 PLN → 0.01 (half away from zero)
        cost_pln: 0.01,
        cost_pln_grosz: '1',
        exchange_rate: 4.0123,
        exchange_rate_date: '2026-03-10',
        exchange_rate_source: 'NBP Table C',
        exchange_rate_info: {
          pln_available: true,
          usd_pln: 4.0123,
          effective_date: '2026-03-10',
          table_no: nbp.table('C', '2026-03-10')!.no,
          source: 'NBP Table C',
          stale: false,
        },
        last_updated: Date.parse(NOW) / 1000,
      });
    });

    it('hides orgs the caller may not see', async () => {
      await t.as('owui-user2-token').get(`${BASE}/usage/real-time/${orgId}`).expect(404);
      await t.as('owui-admin-token').get(`${BASE}/usage/real-time/${otherId}`).expect(404);
      await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/${otherId}`).expect(200);
      await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/org_missing`).expect(404);
    });
  });

  describe('manual-record', () => {
    it('is for the operator only', async () => {
      const body = { client_org_id: orgId, model: 'x/y', cost: 1, reason: 'try' };
      await t.as('owui-admin-token').post(`${BASE}/usage/manual-record`).send(body).expect(403);
      await t.as('owui-user-token').post(`${BASE}/usage/manual-record`).send(body).expect(403);
      await t.as(INGEST_TOKEN).post(`${BASE}/usage/manual-record`).send(body).expect(403);
      await request(t.app).post(`${BASE}/usage/manual-record`).send(body).expect(401);
      expect(await eventsOf(t, { source: 'manual' })).toHaveLength(0);
    });

    it('requires a reason and valid fields (400 naming the field)', async () => {
      const cases: [object, string][] = [
        [{ client_org_id: orgId, model: 'deepseek-ai/deepseek-v3', tokens: 1000, cost: 0.002 }, 'reason'],
        [{ client_org_id: orgId, model: 'deepseek-ai/deepseek-v3', cost: 0.002, reason: '  ' }, 'reason'],
        [{ client_org_id: orgId, model: 'deepseek-ai/deepseek-v3', reason: 'why' }, 'cost'],
        [{ client_org_id: orgId, model: 'deepseek-ai/deepseek-v3', cost: 'free', reason: 'why' }, 'cost'],
        [{ client_org_id: orgId, cost: 1, reason: 'why' }, 'model'],
        [{ client_org_id: orgId, model: 'm', cost: 1, reason: 'why', tokens: 1.5 }, 'tokens'],
      ];
      for (const [body, field] of cases) {
        const res = await t.as(ADMIN_TOKEN).post(`${BASE}/usage/manual-record`).send(body).expect(400);
        expect(res.body.error.message).toMatch(new RegExp(`^${field}`));
      }
      expect(await eventsOf(t, { source: 'manual' })).toHaveLength(0);
      await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/usage/manual-record`)
        .send({ client_org_id: 'org_missing', model: 'm', cost: 1, reason: 'why' })
        .expect(404);
    });

    it('records a correction as a new manual ledger event, audited; negative cost allowed; replay is a duplicate', async () => {
      const before = (await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/${orgId}`).expect(200)).body;
      const body = {
        client_org_id: orgId,
        model: 'deepseek-ai/deepseek-v3',
        tokens: 1000,
        cost: '-0.0002',
        reason: 'credit for a failed generation',
        event_id: 'manual-credit-1',
        occurred_at: '2026-03-10T11:00:00Z',
      };
      const res = await t.as(ADMIN_TOKEN).post(`${BASE}/usage/manual-record`).send(body).expect(201);
      expect(res.body).toEqual({
        success: true,
        event_id: 'manual-credit-1',
        client_org_id: orgId,
        status: 'recorded',
      });

      const [row] = await eventsOf(t, { event_id: 'manual-credit-1' });
      expect(row).toMatchObject({
        source: 'manual',
        cost_status: 'manual',
        reason: 'credit for a failed generation',
        client_org_id: orgId,
        usage_day: '2026-03-10',
      });
      expect(String(row.raw_cost_nano_usd)).toBe('-200000');
      expect(String(row.billed_cost_nano_usd)).toBe('-300000'); // × 1.5

      const after = (await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/${orgId}`).expect(200)).body;
      expect(BigInt(after.cost_nano_usd) - BigInt(before.cost_nano_usd)).toBe(-300_000n);
      expect(after.requests).toBe(before.requests); // a correction is not a request
      expect(after.tokens - before.tokens).toBe(1000);

      const audit = await t.db('audit_log').where({ action: 'usage.manual_record', target_id: 'manual-credit-1' });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'operator', target_type: 'usage_event' });
      expect(JSON.parse(audit[0].details)).toMatchObject({
        client_org_id: orgId,
        reason: 'credit for a failed generation',
        status: 'recorded',
      });

      const replay = await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/usage/manual-record`)
        .send({ ...body, cost: '-9' })
        .expect(200);
      expect(replay.body.status).toBe('duplicate');
      expect(await eventsOf(t, { event_id: 'manual-credit-1' })).toHaveLength(1);
      const again = (await t.as(ADMIN_TOKEN).get(`${BASE}/usage/real-time/${orgId}`).expect(200)).body;
      expect(again.cost_nano_usd).toBe(after.cost_nano_usd);
    });

    it('takes the seeds body (no org given) into the default org', async () => {
      const res = await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/usage/manual-record`)
        .send({ model: 'deepseek-ai/deepseek-v3', tokens: 1000, cost: 0.002, reason: 'test record' })
        .expect(201);
      expect(res.body.client_org_id).toBe('org_default_default');
      const [row] = await eventsOf(t, { event_id: res.body.event_id });
      expect(Number(row.input_tokens) + Number(row.output_tokens)).toBe(1000);
      expect(String(row.raw_cost_nano_usd)).toBe('2000000');
    });
  });

  it("puts a correction for a user without an org into that user's org", async () => {
    const res = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/usage/manual-record`)
      .send({ user_id: 'user-1', model: 'deepseek-ai/deepseek-v3', cost: '-0.001', reason: 'refund for user-1' })
      .expect(201);
    expect(res.body.client_org_id).toBe(orgId);
    const [row] = await eventsOf(t, { event_id: res.body.event_id });
    expect(row).toMatchObject({ client_org_id: orgId, user_id: 'user-1', source: 'manual' });
  });

  describe('webhook', () => {
    it('records the seeds body for the org that owns the key, once however often it is sent', async () => {
      const first = await request(t.app).post(`${BASE}/webhook/openrouter-usage`).send(seedWebhook()).expect(200);
      expect(first.body).toMatchObject({ success: true, client_org_id: orgId, status: 'recorded' });
      const second = await request(t.app).post(`${BASE}/webhook/openrouter-usage`).send(seedWebhook()).expect(200);
      expect(second.body).toMatchObject({ status: 'duplicate', event_id: first.body.event_id });
      const rows = await eventsOf(t, { source: 'webhook' });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        client_org_id: orgId,
        model: 'deepseek-ai/deepseek-v3',
        external_user: 'user_123',
      });
      expect(Number(rows[0].input_tokens) + Number(rows[0].output_tokens)).toBe(1000);
      expect(String(rows[0].billed_cost_nano_usd)).toBe('3000000'); // 0.002 × 1.5
      // A different call (another timestamp) is another event.
      await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ timestamp: '2026-03-10T10:00:01Z' }))
        .expect(200);
      expect(await eventsOf(t, { source: 'webhook' })).toHaveLength(2);
    });

    it('attributes the event to the user whose OpenRouter user id is external_user, else to no user', async () => {
      await t
        .as(ADMIN_TOKEN)
        .post('/api/v1/client-organizations/user-mappings')
        .send({ user_id: 'user-ext', client_org_id: orgId, openrouter_user_id: 'or-user-ext' })
        .expect(201);
      const mapped = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ external_user: 'or-user-ext', timestamp: '2026-03-10T11:00:00Z' }))
        .expect(200);
      const byOpenWebUiId = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ external_user: 'user-1', timestamp: '2026-03-10T11:00:01Z' }))
        .expect(200);
      const unknown = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ external_user: 'nobody-we-know', timestamp: '2026-03-10T11:00:02Z' }))
        .expect(200);
      const userOf = async (eventId: string) => (await eventsOf(t, { event_id: eventId }))[0]?.user_id;
      expect(await userOf(mapped.body.event_id)).toBe('user-ext');
      expect(await userOf(byOpenWebUiId.body.event_id)).toBe('user-1');
      expect(await userOf(unknown.body.event_id)).toBe('');
    });

    it('rejects an unknown key with 401 and records nothing', async () => {
      const before = (await t.db('usage_events').count({ n: '*' }))[0]?.n;
      const res = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ api_key: 'sk-or-v1-unknown000000000000000000000000000000000' }))
        .expect(401);
      expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('api_key') } });
      expect((await t.db('usage_events').count({ n: '*' }))[0]?.n).toBe(before);
    });

    it('rejects a bad body with 400 naming the field', async () => {
      for (const [body, field] of [
        [seedWebhook({ cost: undefined }), 'cost'],
        [seedWebhook({ cost: -1 }), 'cost'],
        [seedWebhook({ timestamp: 'yesterday' }), 'timestamp'],
        [seedWebhook({ api_key: undefined }), 'api_key'],
        [seedWebhook({ tokens_used: 10, completion_tokens: 20 }), 'completion_tokens'],
        [seedWebhook({ tokens_used: 10, prompt_tokens: 11 }), 'prompt_tokens'],
      ] as const) {
        const res = await request(t.app).post(`${BASE}/webhook/openrouter-usage`).send(body).expect(400);
        expect(res.body.error.message).toMatch(new RegExp(`^${field}`));
      }
    });

    it("counts a webhook whose generation_id is a filter event's id once, in either order", async () => {
      await t
        .ingest({
          events: [
            completionEvent({
              event_id: 'gen-both-1',
              generation_id: 'gen-both-1',
              usage: { input_tokens: 10, output_tokens: 10, cost_usd: 0.002 },
            }),
          ],
        })
        .expect(200);
      const late = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ generation_id: 'gen-both-1' }))
        .expect(200);
      expect(late.body.status).toBe('duplicate');

      const early = await request(t.app)
        .post(`${BASE}/webhook/openrouter-usage`)
        .send(seedWebhook({ generation_id: 'gen-both-2' }))
        .expect(200);
      expect(early.body.status).toBe('recorded');
      const filter = await t
        .ingest({ events: [completionEvent({ event_id: 'gen-both-2', generation_id: 'gen-both-2' })] })
        .expect(200);
      expect(filter.body.results[0].status).toBe('duplicate');

      expect(await t.db('usage_events').whereIn('event_id', ['gen-both-1', 'gen-both-2'])).toHaveLength(2);
      const [ledger] = await t
        .db('usage_events')
        .where({ client_org_id: orgId, usage_day: '2026-03-10' })
        .sum({ billed: 'billed_cost_nano_usd' });
      const [daily] = await t
        .db('usage_daily')
        .where({ client_org_id: orgId, usage_day: '2026-03-10' })
        .sum({ billed: 'billed_cost_nano_usd' });
      expect(String(daily?.billed)).toBe(String(ledger?.billed));
    });
  });
});
