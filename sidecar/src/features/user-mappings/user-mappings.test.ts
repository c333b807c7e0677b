import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
const OWUI_ADMIN = 'owui-admin-token';

const ingest = (t: TestApp, events: unknown[]) => t.ingest({ events }).expect(200);

async function createOrg(t: TestApp, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t
    .as(ADMIN_TOKEN)
    .post(`${BASE}/clients`)
    .send({ name, ...extra })
    .expect(201);
  return res.body.id as string;
}

/** Per org: requests and billed nano-USD of one user, read from the ledger itself. */
async function ledgerByOrg(t: TestApp, userId: string): Promise<Record<string, { requests: number; billed: bigint }>> {
  const rows = await t.db('usage_events').where({ user_id: userId }).select('client_org_id', 'billed_cost_nano_usd');
  const byOrg: Record<string, { requests: number; billed: bigint }> = {};
  for (const row of rows) {
    const entry = (byOrg[String(row.client_org_id)] ??= { requests: 0, billed: 0n });
    entry.requests += 1;
    entry.billed += BigInt(String(row.billed_cost_nano_usd));
  }
  return byOrg;
}

describe.each(databaseKinds)('user mappings on %s', (kind) => {
  let t: TestApp;
  let orgA: string;
  let orgB: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
    orgA = await createOrg(t, 'Org A', { markup_rate: '1.5' });
    orgB = await createOrg(t, 'Org B', { markup_rate: '2' });
  });
  afterAll(async () => t?.close());

  it('creates a mapping (201) that the next event follows', async () => {
    const res = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'u-map-1', client_org_id: orgA, user_email: 'u1@a.example', monthly_limit_usd: '12.5' })
      .expect(201);
    expect(res.body).toMatchObject({
      user_id: 'u-map-1',
      client_org_id: orgA,
      openrouter_user_id: 'u-map-1',
      user_email: 'u1@a.example',
      is_active: true,
      monthly_limit_usd: 12.5,
      source: 'manual',
    });
    await ingest(t, [
      completionEvent({
        event_id: 'gen-map-1',
        user: { id: 'u-map-1' },
        usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1 },
      }),
    ]);
    const event = await t.db('usage_events').where({ event_id: 'gen-map-1' }).first();
    expect(event).toMatchObject({ client_org_id: orgA });
    expect(String(event.billed_cost_nano_usd)).toBe('1500000000');
  });

  it('lists mappings, optionally for one org', async () => {
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'u-list-b', client_org_id: orgB })
      .expect(201);
    const all = await t.as(ADMIN_TOKEN).get(`${BASE}/user-mappings`).expect(200);
    const ids = all.body.mappings.map((m: { user_id: string }) => m.user_id);
    expect(ids).toEqual(expect.arrayContaining(['u-map-1', 'u-list-b']));
    expect(all.body.total).toBe(all.body.mappings.length);
    const onlyB = await t.as(ADMIN_TOKEN).get(`${BASE}/user-mappings?client_org_id=${orgB}`).expect(200);
    expect(onlyB.body.mappings.map((m: { user_id: string }) => m.user_id)).toEqual(['u-list-b']);
    const viaAdmin = await t
      .as(OWUI_ADMIN)
      .get(`/client_organizations/user-mappings?client_org_id=${orgB}`)
      .expect(200);
    expect(viaAdmin.body.mappings).toEqual(onlyB.body.mappings);
    await t.as(ADMIN_TOKEN).get(`${BASE}/user-mappings?client_org_id=org_missing`).expect(404);
  });

  it('moves a user: past usage stays with the old org, new usage goes to the new one', async () => {
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'mover', client_org_id: orgA }).expect(201);
    await ingest(t, [
      completionEvent({
        event_id: 'gen-move-1',
        user: { id: 'mover' },
        usage: { input_tokens: 10, output_tokens: 5, cost_usd: '0.01' },
      }),
    ]);
    const moved = await t
      .as(OWUI_ADMIN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'mover', client_org_id: orgB })
      .expect(201);
    expect(moved.body.client_org_id).toBe(orgB);
    await ingest(t, [
      completionEvent({
        event_id: 'gen-move-2',
        user: { id: 'mover' },
        usage: { input_tokens: 10, output_tokens: 5, cost_usd: '0.01' },
      }),
    ]);

    const ledger = await ledgerByOrg(t, 'mover');
    expect(Object.keys(ledger).sort()).toEqual([orgA, orgB].sort());
    expect(ledger[orgA]).toEqual({ requests: 1, billed: 15_000_000n }); // 0.01 × 1.5
    expect(ledger[orgB]).toEqual({ requests: 1, billed: 20_000_000n }); // 0.01 × 2

    for (const [org, expected] of Object.entries(ledger)) {
      const res = await t.as(ADMIN_TOKEN).get(`${BASE}/usage/by-user/${org}?month=2026-03`).expect(200);
      const line = res.body.users.find((u: { user_id: string }) => u.user_id === 'mover');
      expect(line).toMatchObject({ requests: expected.requests, cost_nano_usd: expected.billed.toString() });
    }
    const audit = await t.db('audit_log').where({ target_id: 'mover' }).orderBy('id');
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ['operator', 'user_mapping.create'],
      ['admin:admin-1', 'user_mapping.update'],
    ]);
    expect(JSON.parse(audit[1].details)).toEqual({ client_org_id: orgB, previous_client_org_id: orgA });
  });

  it('deletes a mapping: the next event goes to the default org and the mapping is learned again', async () => {
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'leaver', client_org_id: orgA }).expect(201);
    await ingest(t, [completionEvent({ event_id: 'gen-del-1', user: { id: 'leaver' } })]);
    const res = await t.as(ADMIN_TOKEN).delete(`${BASE}/user-mappings/leaver`).expect(200);
    expect(res.body).toEqual({ success: true, user_id: 'leaver' });
    expect(await t.db('user_client_mappings').where({ user_id: 'leaver' })).toHaveLength(0);
    await t.as(ADMIN_TOKEN).delete(`${BASE}/user-mappings/leaver`).expect(404);

    await ingest(t, [completionEvent({ event_id: 'gen-del-2', user: { id: 'leaver' } })]);
    const events = await t
      .db('usage_events')
      .where({ user_id: 'leaver' })
      .orderBy('event_id')
      .select('event_id', 'client_org_id');
    expect(events).toEqual([
      { event_id: 'gen-del-1', client_org_id: orgA },
      { event_id: 'gen-del-2', client_org_id: 'org_default_default' },
    ]);
    expect(await t.db('user_client_mappings').where({ user_id: 'leaver' }).first()).toMatchObject({
      client_org_id: 'org_default_default',
      source: 'learned',
    });
    const actions = (await t.db('audit_log').where({ target_id: 'leaver' }).orderBy('id')).map((a) => a.action);
    expect(actions).toEqual(['user_mapping.create', 'user_mapping.delete']);
  });

  it('rejects bad input with a 400 naming the field and unknown orgs with 404', async () => {
    const cases: [object, string][] = [
      [{ client_org_id: orgA }, 'user_id'],
      [{ user_id: '  ', client_org_id: orgA }, 'user_id'],
      [{ user_id: 'x' }, 'client_org_id'],
      [{ user_id: 'x', client_org_id: orgA, monthly_limit_usd: 'lots' }, 'monthly_limit_usd'],
      [{ user_id: 'x', client_org_id: orgA, is_active: 'yes' }, 'is_active'],
    ];
    for (const [body, field] of cases) {
      const res = await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send(body).expect(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}`));
    }
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'x', client_org_id: 'org_missing' })
      .expect(404);
    expect(await t.db('user_client_mappings').where({ user_id: 'x' })).toHaveLength(0);
  });

  it('is for operators and admins only', async () => {
    await t.as('owui-user-token').get(`${BASE}/user-mappings`).expect(403);
    await t
      .as('owui-user-token')
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'user-1', client_org_id: orgA })
      .expect(403);
    await t.as('owui-user-token').delete(`${BASE}/user-mappings/u-map-1`).expect(403);
    expect(await t.db('user_client_mappings').where({ user_id: 'u-map-1' })).toHaveLength(1);
  });
});
