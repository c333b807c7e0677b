import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFakeOpenRouter, type FakeOpenRouter } from '../../../../test/fakes/openrouter/fake-openrouter.js';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
const SYNC = '/api/v1/usage-tracking/sync/openrouter-usage';
const ORG_KEY = `sk-or-v1-${'a'.repeat(64)}`;

describe.each(databaseKinds)('OpenRouter sync and provisioning on %s', (kind) => {
  let fake: FakeOpenRouter;
  let t: TestApp;
  let orgId: string;
  const at = (iso: string) => t.setNow(iso);
  const ingest = (events: unknown[]) => t.ingest({ events }).expect(200);
  const sync = async () => (await t.as(ADMIN_TOKEN).post(SYNC).send({ days_back: 1 }).expect(200)).body;
  const event = async (id: string) => t.db('usage_events').where({ event_id: id }).first();

  beforeAll(async () => {
    fake = await createFakeOpenRouter({ provisioningKeys: ['sk-or-v1-management'] });
    t = await createTestApp(kind, {
      now: new Date().toISOString(),
      env: { OPENROUTER_API_BASE: fake.apiBase, OPENROUTER_PROVISIONING_KEY: 'sk-or-v1-management' },
    });
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Synced Co', openrouter_api_key: ORG_KEY })
      .expect(201);
    orgId = org.body.id;
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'user-1', client_org_id: orgId }).expect(201);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => at(new Date().toISOString()));

  it('answers in the seeds’ shape', async () => {
    // An unmapped user brings the default org into being; it has no key of its own.
    await ingest([completionEvent({ event_id: 'gen-default-org', user: { id: 'unmapped-user' } })]);
    const body = await sync();
    expect(body).toMatchObject({ status: 'completed', total_organizations: expect.any(Number) });
    const mine = body.results.find((r: { client_org_id: string }) => r.client_org_id === orgId);
    expect(mine).toMatchObject({
      organization: 'Synced Co',
      synced_generations: expect.any(Number),
      status: 'success',
    });
    // The default org has no key of its own and there is no OPENROUTER_API_KEY: skipped, said why.
    const skipped = body.results.find((r: { status: string }) => r.status === 'skipped');
    expect(skipped?.error).toMatch(/no OpenRouter key/);
  });

  it('fills a pending cost from /generation after 404s, and after a 429 with Retry-After', async () => {
    const charged = fake.recordGeneration({
      model: 'fake/alpha',
      apiKey: ORG_KEY,
      promptTokens: 100,
      completionTokens: 60,
    });
    await ingest([
      completionEvent({
        event_id: charged.id,
        generation_id: charged.id,
        occurred_at: charged.createdAt,
        usage: { input_tokens: 100, output_tokens: 60 },
      }),
    ]);
    expect((await event(charged.id)).cost_status).toBe('pending');

    fake.injectFault({ path: '/api/v1/generation', status: 404, times: 1 });
    const first = await sync();
    expect(first.results.find((r: { client_org_id: string }) => r.client_org_id === orgId).still_pending).toBe(1);
    expect((await event(charged.id)).cost_status).toBe('pending');

    // Backed off: a run right away does not ask again; 31 s later it does, meets a 429, waits, succeeds.
    fake.injectFault({ path: '/api/v1/generation', status: 429, times: 1, retryAfterSeconds: 1 });
    at(new Date(Date.now() + 31_000).toISOString());
    const second = await sync();
    expect(second.results.find((r: { client_org_id: string }) => r.client_org_id === orgId).synced_generations).toBe(1);
    const filled = await event(charged.id);
    expect(filled.cost_status).toBe('reconciled');
    // fake/alpha: 100 × $0.000001 + 60 × $0.000002 = $0.00022 = 220,000 nano; billed × 1.3 = 286,000.
    expect([String(filled.raw_cost_nano_usd), String(filled.billed_cost_nano_usd)]).toEqual(['220000', '286000']);
    const daily = await t
      .db('usage_daily')
      .where({ client_org_id: orgId })
      .sum({ raw: 'raw_cost_nano_usd', pending: 'pending_cost_requests' });
    expect(Number(daily[0]?.pending)).toBe(0);
    expect(String(daily[0]?.raw)).toBe('220000');
    // Filled once: another run changes nothing.
    await sync();
    expect(String((await event(charged.id)).raw_cost_nano_usd)).toBe('220000');
  });

  it('estimates a cost with no generation id from the model price list', async () => {
    await ingest([
      completionEvent({
        event_id: 'owui:api:est-1',
        model: 'fake/reasoner',
        usage: { input_tokens: 1000, output_tokens: 100 },
      }),
    ]);
    await sync();
    const row = await event('owui:api:est-1');
    // 1000 × $0.000003 + 100 × $0.000015 = $0.0045 → 4,500,000 nano.
    expect([row.cost_status, String(row.raw_cost_nano_usd)]).toEqual(['estimated', '4500000']);
  });

  it('bills an aborted stream exactly once across repeated runs, never on top of a completion', async () => {
    const aborted = fake.recordGeneration({
      model: 'fake/alpha',
      apiKey: ORG_KEY,
      promptTokens: 10,
      completionTokens: 3,
      cancelled: true,
    });
    const start = {
      event_id: `start:${aborted.id}`,
      kind: 'generation_started',
      occurred_at: aborted.createdAt,
      user: { id: 'user-1' },
      model: 'fake/alpha',
      channel: 'ui',
      generation_id: aborted.id,
    };
    await ingest([start]);
    // Inside the grace period nothing is billed.
    await sync();
    expect(await event(aborted.id)).toBeUndefined();
    at(new Date(Date.now() + 11 * 60_000).toISOString());
    const run = await sync();
    expect(run.results.find((r: { client_org_id: string }) => r.client_org_id === orgId).aborted_streams_billed).toBe(
      1,
    );
    await sync();
    await sync();
    const rows = await t.db('usage_events').where({ generation_id: aborted.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: 'sync', cost_status: 'reported', client_org_id: orgId });
    // 10 × $0.000001 + 3 × $0.000002 = $0.000016.
    expect(String(rows[0].raw_cost_nano_usd)).toBe('16000');
    // The filter's completion for the same generation arriving late is a duplicate.
    const late = await ingest([
      completionEvent({
        event_id: aborted.id,
        generation_id: aborted.id,
        usage: { input_tokens: 10, output_tokens: 3, cost_usd: 0.000016 },
      }),
    ]);
    expect(late.body.results[0].status).toBe('duplicate');

    // A start whose completion did arrive is resolved without a second charge.
    const done = fake.recordGeneration({ model: 'fake/alpha', apiKey: ORG_KEY, promptTokens: 5, completionTokens: 5 });
    await ingest([
      { ...start, event_id: `start:${done.id}`, generation_id: done.id, occurred_at: done.createdAt },
      completionEvent({
        event_id: done.id,
        generation_id: done.id,
        occurred_at: done.createdAt,
        usage: { input_tokens: 5, output_tokens: 5, cost_usd: 0.000015 },
      }),
    ]);
    at(new Date(Date.now() + 11 * 60_000).toISOString());
    await sync();
    expect(await t.db('usage_events').where({ generation_id: done.id })).toHaveLength(1);
    expect((await t.db('generation_starts').where({ generation_id: done.id }).first()).resolution).toBe('completed');
  });

  it('stores key-level drift as reconciliation rows, never as usage', async () => {
    const ledgerBefore = await t.db('usage_events').count({ n: '*' });
    // OpenRouter charged the key for a generation our ledger never saw.
    fake.recordGeneration({ model: 'fake/alpha', apiKey: ORG_KEY, promptTokens: 1000, completionTokens: 0 });
    await sync();
    expect(await t.db('usage_events').count({ n: '*' })).toEqual(ledgerBefore);
    const res = await t.as(ADMIN_TOKEN).get(`/api/v1/usage-tracking/reconciliation?client_org_id=${orgId}`).expect(200);
    const monthly = res.body.rows.find((r: { kind: string }) => r.kind === 'key_monthly');
    expect(monthly).toBeDefined();
    // The unseen generation: 1000 × $0.000001 = $0.001 = 1,000,000 nano of drift.
    expect(monthly.drift_nano_usd).toBe('1000000');
    expect(res.body.monthly_drift_nano_usd).toBe('1000000');
  });

  it('provisions an org key with its limit, follows limit and deactivation, and rotates it', async () => {
    const created = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Provisioned Co', monthly_limit_usd: 130, markup_rate: 1.3, provision_openrouter_key: true })
      .expect(201);
    expect(created.body.openrouter_key_label).toMatch(/^sk-or-v1-.{3}….{3}$/);
    const [key] = [...fake.provisionedKeys.values()].filter((k) => k.name.includes(created.body.id));
    // $130 billed at 1.3× = $100 raw at OpenRouter, reset monthly.
    expect([key?.limit, key?.limitReset, key?.disabled]).toEqual([100, 'monthly', false]);
    const stored = await t.db('client_organizations').where({ id: created.body.id }).first();
    expect(stored.openrouter_key_encrypted).not.toContain(key!.key);
    expect(JSON.stringify(created.body)).not.toContain(key!.key);

    await t.as(ADMIN_TOKEN).patch(`${BASE}/clients/${created.body.id}`).send({ monthly_limit_usd: 13 }).expect(200);
    expect(fake.provisionedKeys.get(key!.hash)?.limit).toBe(10);
    await t.as(ADMIN_TOKEN).delete(`${BASE}/clients/${created.body.id}`).expect(200);
    expect(fake.provisionedKeys.get(key!.hash)?.disabled).toBe(true);

    const rotated = await t.as(ADMIN_TOKEN).post(`${BASE}/clients/${created.body.id}/rotate-key`).expect(200);
    expect(rotated.body.openrouter_key_label).not.toBe(created.body.openrouter_key_label);
    expect(fake.provisionedKeys.has(key!.hash)).toBe(false);
    const audit = await t.db('audit_log').where({ target_id: created.body.id, action: 'organization.rotate_key' });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(await t.db('audit_log').select())).not.toContain(key!.key);
  });

  it('answers 502 naming OpenRouter when provisioning fails, and creates nothing', async () => {
    const before = await t.db('client_organizations').count({ n: '*' });
    fake.injectFault({ path: '/api/v1/keys', status: 402, times: 1, message: 'Insufficient credits' });
    const res = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Broke Co', provision_openrouter_key: true })
      .expect(502);
    expect(res.body.error.message).toMatch(/402 Insufficient credits/);
    expect(await t.db('client_organizations').count({ n: '*' })).toEqual(before);
  });

  it('starts syncing an org as soon as an admin sets its key (the seeds’ setup path)', async () => {
    const org = await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Late Key Co' }).expect(201);
    const before = (await sync()).results.find((r: { client_org_id: string }) => r.client_org_id === org.body.id);
    expect(before.status).toBe('skipped');
    const lateKey = `sk-or-v1-${'b'.repeat(64)}`;
    await t
      .as('owui-admin-token')
      .patch(`${BASE}/clients/${org.body.id}`)
      .send({ openrouter_api_key: lateKey })
      .expect(200);
    const after = (await sync()).results.find((r: { client_org_id: string }) => r.client_org_id === org.body.id);
    expect(after.status).toBe('success');
  });
});

describe('OpenRouter refusing the key', () => {
  it('reports the org as failed with the key masked, and the run still completes', async () => {
    const fake = await createFakeOpenRouter({ apiKeys: ['sk-or-v1-only-this-one-is-valid'] });
    const t = await createTestApp('sqlite', { env: { OPENROUTER_API_BASE: fake.apiBase } });
    try {
      const badKey = `sk-or-v1-${'c'.repeat(64)}`;
      const org = await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/clients`)
        .send({ name: 'Bad Key Co', openrouter_api_key: badKey })
        .expect(201);
      await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/user-mappings`)
        .send({ user_id: 'user-1', client_org_id: org.body.id })
        .expect(201);
      await t
        .ingest({
          events: [
            completionEvent({
              event_id: 'gen-bad',
              generation_id: 'gen-bad',
              usage: { input_tokens: 1, output_tokens: 1 },
            }),
          ],
        })
        .expect(200);
      const body = (await t.as(ADMIN_TOKEN).post(SYNC).send({}).expect(200)).body;
      const result = body.results.find((r: { client_org_id: string }) => r.client_org_id === org.body.id);
      expect(result.status).toBe('error');
      expect(result.error).toMatch(/401/);
      expect(result.error).toContain('sk-or-v1-ccc…ccc');
      expect(JSON.stringify(body)).not.toContain(badKey);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});

describe('a provisioning key stored in settings (not the environment)', () => {
  it('is used for /activity reconciliation as it is for provisioning', async () => {
    const managementKey = `sk-or-v1-${'f'.repeat(64)}`;
    const fake = await createFakeOpenRouter({ provisioningKeys: [managementKey] });
    const t = await createTestApp('sqlite', { env: { OPENROUTER_API_BASE: fake.apiBase } });
    try {
      await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send({ openrouter_provisioning_key: managementKey }).expect(200);
      const org = await t
        .as(ADMIN_TOKEN)
        .post(`${BASE}/clients`)
        .send({ name: 'Settings Key Co', provision_openrouter_key: true })
        .expect(201);
      const [key] = [...fake.provisionedKeys.values()];
      // /activity lists completed UTC days only: a generation of yesterday.
      const yesterday = new Date(Date.now() - 86_400_000).toISOString();
      fake.recordGeneration({
        model: 'fake/alpha',
        apiKey: key!.key,
        promptTokens: 10,
        completionTokens: 0,
        createdAt: yesterday,
      });
      await t.as(ADMIN_TOKEN).post(SYNC).send({ days_back: 2 }).expect(200);
      const res = await t
        .as(ADMIN_TOKEN)
        .get(`/api/v1/usage-tracking/reconciliation?client_org_id=${org.body.id}`)
        .expect(200);
      const activity = res.body.rows.filter((r: { kind: string }) => r.kind === 'activity');
      // 10 × $0.000001 charged by OpenRouter, none in the ledger.
      expect(activity).toEqual([expect.objectContaining({ model: 'fake/alpha', drift_nano_usd: '10000' })]);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});
