import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
const OWUI_ADMIN = 'owui-admin-token';

/** `admin_may_set_markup`: the operator lets Open WebUI admins set their orgs' markup. */
describe.each(databaseKinds)('markup by an Open WebUI admin, if the operator allows, on %s', (kind) => {
  let t: TestApp;
  let own: string;
  let otherTenant: string;

  const storedPpm = async (id: string) =>
    String((await t.db('client_organizations').where({ id }).first()).markup_rate_ppm);
  const allow = async (value: boolean) => {
    const res = await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send({ admin_may_set_markup: value }).expect(200);
    expect(res.body.admin_may_set_markup).toBe(value);
  };

  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
    own = (await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Acme' }).expect(201)).body.id;
    otherTenant = (
      await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Elsewhere', instance_id: 'other' }).expect(201)
    ).body.id;
  });
  afterAll(async () => t?.close());

  it('is off by default: the admin neither sees nor sets markup', async () => {
    for (const token of [ADMIN_TOKEN, OWUI_ADMIN]) {
      const res = await t.as(token).get(`${BASE}/settings`).expect(200);
      expect(res.body.admin_may_set_markup).toBe(false);
    }
    expect((await t.as(OWUI_ADMIN).get(`${BASE}/clients/${own}`).expect(200)).body).not.toHaveProperty('markup_rate');
    const patch = await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${own}`).send({ markup_rate: 1.1 }).expect(403);
    expect(patch.body.error).toEqual({ code: 'forbidden', message: 'markup_rate can only be set by the operator' });
    await t.as(OWUI_ADMIN).post(`${BASE}/clients`).send({ name: 'X', markup_rate: 1.1 }).expect(403);
    expect(await storedPpm(own)).toBe('1300000');
  });

  it('is the operator’s to change: admins get 403, bad values 400, the change is audited', async () => {
    await t.as(OWUI_ADMIN).post(`${BASE}/settings`).send({ admin_may_set_markup: true }).expect(403);
    await t.as(INGEST_TOKEN).post(`${BASE}/settings`).send({ admin_may_set_markup: true }).expect(403);
    const bad = await t.as(ADMIN_TOKEN).post(`${BASE}/settings`).send({ admin_may_set_markup: 'yes' }).expect(400);
    expect(bad.body.error.message).toMatch(/^admin_may_set_markup/);
    expect((await t.as(ADMIN_TOKEN).get(`${BASE}/settings`).expect(200)).body.admin_may_set_markup).toBe(false);

    await allow(true);
    expect((await t.as(OWUI_ADMIN).get(`${BASE}/settings`).expect(200)).body.admin_may_set_markup).toBe(true);
    const audit = await t.db('audit_log').where({ action: 'settings.update' }).select('actor', 'details');
    expect(audit).toHaveLength(1);
    expect(audit[0].actor).toBe('operator');
    expect(JSON.parse(String(audit[0].details))).toMatchObject({ admin_may_set_markup: true });
  });

  it('when allowed, the admin sees and sets markup on its instance’s orgs, and new usage is billed at it', async () => {
    const list = await t.as(OWUI_ADMIN).get(`${BASE}/clients`).expect(200);
    const acme = list.body.clients.find((c: { id: string }) => c.id === own);
    expect(acme.markup_rate).toBe(1.3);
    expect(acme).not.toHaveProperty('instance_id');

    const patched = await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${own}`).send({ markup_rate: '1.45' }).expect(200);
    expect(patched.body).toMatchObject({ id: own, markup_rate: 1.45 });
    expect(await storedPpm(own)).toBe('1450000');
    expect((await t.as(OWUI_ADMIN).get(`${BASE}/clients/${own}`).expect(200)).body.markup_rate).toBe(1.45);
    const created = await t
      .as(OWUI_ADMIN)
      .post(`${BASE}/clients`)
      .send({ name: 'Admin Made', markup_rate: 1.2 })
      .expect(201);
    expect(created.body.markup_rate).toBe(1.2);
    expect(await storedPpm(created.body.id)).toBe('1200000');
    const rows = await t.db('audit_log').where({ target_id: own, action: 'organization.update' }).select('actor');
    expect(rows.map((r: { actor: string }) => r.actor)).toEqual(['admin:admin-1']);

    // Still not: another instance's org, the instance, bad values; nor for a plain user.
    await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${otherTenant}`).send({ markup_rate: 1 }).expect(404);
    expect(await storedPpm(otherTenant)).toBe('1300000');
    await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${own}`).send({ instance_id: 'other' }).expect(403);
    const zero = await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${own}`).send({ markup_rate: 0 }).expect(400);
    expect(zero.body.error.message).toMatch(/^markup_rate/);
    await t.as('owui-user-token').patch(`${BASE}/clients/${own}`).send({ markup_rate: 1 }).expect(403);

    // The ledger bills the next event at the admin's markup: 0.002 USD × 1.45.
    await t.as(OWUI_ADMIN).post(`${BASE}/user-mappings`).send({ user_id: 'user-1', client_org_id: own }).expect(201);
    await t
      .ingest({
        events: [
          completionEvent({
            event_id: 'gen-after-markup',
            usage: { input_tokens: 1, output_tokens: 1, cost_usd: '0.002' },
          }),
        ],
      })
      .expect(200);
    const event = await t.db('usage_events').where({ event_id: 'gen-after-markup' }).first();
    expect(event.client_org_id).toBe(own);
    expect(String(event.billed_cost_nano_usd)).toBe('2900000');
  });

  it('switched off again, the admin is back to read-only without markup', async () => {
    await allow(false);
    expect((await t.as(OWUI_ADMIN).get(`${BASE}/clients/${own}`).expect(200)).body).not.toHaveProperty('markup_rate');
    await t.as(OWUI_ADMIN).patch(`${BASE}/clients/${own}`).send({ markup_rate: 2 }).expect(403);
    expect(await storedPpm(own)).toBe('1450000');
    // The operator is unaffected either way.
    expect((await t.as(ADMIN_TOKEN).get(`${BASE}/clients/${own}`).expect(200)).body.markup_rate).toBe(1.45);
  });
});
