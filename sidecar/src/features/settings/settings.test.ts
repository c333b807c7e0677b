import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
const PROVISIONING_KEY = 'sk-or-v1-prov0123456789abcdef0123456789abcdef0123456789';

describe.each(databaseKinds)('settings on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z', env: { DEFAULT_MARKUP_RATE: '1.25' } });
  });
  afterAll(async () => t?.close());

  it('shows the operator everything, starting from the environment', async () => {
    const res = await t.as(ADMIN_TOKEN).get(`${BASE}/settings`).expect(200);
    expect(res.body).toMatchObject({
      billing_currency: 'USD',
      billing_timezone: 'Europe/Warsaw',
      instance_id: 'default',
      default_markup_rate: 1.25,
      openrouter_provisioning_key: { configured: false, source: null, label: null },
    });
  });

  it('shows an Open WebUI admin neither the markup nor the provisioning key', async () => {
    const res = await t.as('owui-admin-token').get('/client_organizations/settings').expect(200);
    expect(res.body).toMatchObject({ billing_currency: 'USD', billing_timezone: 'Europe/Warsaw' });
    expect(res.body).not.toHaveProperty('default_markup_rate');
    expect(res.body).not.toHaveProperty('openrouter_provisioning_key');
    await t.as('owui-user-token').get(`${BASE}/settings`).expect(403);
  });

  it('lets only the operator change settings', async () => {
    for (const token of ['owui-admin-token', 'owui-user-token']) {
      const res = await t.as(token).post(`${BASE}/settings`).send({ default_markup_rate: 1 }).expect(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    await t.as(INGEST_TOKEN).post(`${BASE}/settings`).send({ default_markup_rate: 1 }).expect(403);
    expect((await t.as(ADMIN_TOKEN).get(`${BASE}/settings`).expect(200)).body.default_markup_rate).toBe(1.25);
  });

  it('rejects bad settings with a 400 naming the field', async () => {
    const cases: [object, string][] = [
      [{ default_markup_rate: 0 }, 'default_markup_rate'],
      [{ default_markup_rate: 'x' }, 'default_markup_rate'],
      [{ billing_currency: 'EUR' }, 'billing_currency'],
      [{ openrouter_provisioning_key: 'short' }, 'openrouter_provisioning_key'],
    ];
    for (const [body, field] of cases) {
      const res = await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send(body).expect(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}`));
    }
    await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send({}).expect(400);
  });

  it('applies a new default markup to orgs created afterwards, not to existing ones', async () => {
    const before = await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Before' }).expect(201);
    expect(before.body.markup_rate).toBe(1.25);

    const res = await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send({ default_markup_rate: '1.75' }).expect(200);
    expect(res.body.default_markup_rate).toBe(1.75);

    const after = await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'After' }).expect(201);
    expect(after.body.markup_rate).toBe(1.75);
    expect((await t.as(ADMIN_TOKEN).get(`${BASE}/clients/${before.body.id}`).expect(200)).body.markup_rate).toBe(1.25);
    // The default org, created on first use, takes it too.
    await t
      .ingest({
        events: [completionEvent({ user: { id: 'fresh' }, usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1 } })],
      })
      .expect(200);
    const event = await t.db('usage_events').where({ user_id: 'fresh' }).first();
    expect(event.client_org_id).toBe('org_default_default');
    expect(String(event.billed_cost_nano_usd)).toBe('1750000000');
    expect(await t.db('audit_log').where({ action: 'settings.update' }).select('actor')).toEqual([
      { actor: 'operator' },
    ]);
  });

  it('stores the provisioning key encrypted and shows it masked', async () => {
    const res = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/settings`)
      .send({ openrouter_provisioning_key: PROVISIONING_KEY })
      .expect(200);
    expect(res.body.openrouter_provisioning_key).toEqual({
      configured: true,
      source: 'database',
      label: 'sk-or-v1-pro…789',
    });
    expect(JSON.stringify(res.body)).not.toContain(PROVISIONING_KEY.slice(9, 30));
    const stored = JSON.stringify(await t.db('global_settings').select());
    expect(stored).not.toContain(PROVISIONING_KEY.slice(9));
    expect(JSON.stringify(await t.db('audit_log').select())).not.toContain(PROVISIONING_KEY.slice(9, 30));
    const admin = await t.as('owui-admin-token').get(`${BASE}/settings`).expect(200);
    expect(JSON.stringify(admin.body)).not.toContain('sk-or-v1');

    const cleared = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/settings`)
      .send({ openrouter_provisioning_key: null })
      .expect(200);
    expect(cleared.body.openrouter_provisioning_key).toEqual({ configured: false, source: null, label: null });
    // Other settings survive a partial update.
    expect(cleared.body.default_markup_rate).toBe(1.75);
  });
});

describe('settings with the provisioning key in the environment', () => {
  it('reports it as coming from the environment, masked', async () => {
    const t = await createTestApp('sqlite', { env: { OPENROUTER_PROVISIONING_KEY: PROVISIONING_KEY } });
    try {
      const res = await t.as(ADMIN_TOKEN).get(`${BASE}/settings`).expect(200);
      expect(res.body.openrouter_provisioning_key).toEqual({
        configured: true,
        source: 'environment',
        label: 'sk-or-v1-pro…789',
      });
      expect(JSON.stringify(res.body)).not.toContain(PROVISIONING_KEY.slice(9, 30));
    } finally {
      await t.close();
    }
  });
});
