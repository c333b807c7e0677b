import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const OWUI_ADMIN = 'owui-admin-token';
const OPENROUTER_KEY = 'sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef';

type AuditRow = { actor: string; action: string; target_id: string | null; details: string | null };

async function auditFor(t: TestApp, targetId: string): Promise<AuditRow[]> {
  return t
    .db('audit_log')
    .where({ target_id: targetId })
    .orderBy('id')
    .select('actor', 'action', 'target_id', 'details');
}

describe.each(databaseKinds)('client organizations on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());

  describe.each(['/api/v1/client-organizations', '/client_organizations'])('mounted at %s', (base) => {
    it('creates (201), lists, reads and changes an org', async () => {
      const created = await t
        .as(ADMIN_TOKEN)
        .post(`${base}/clients`)
        .send({
          name: ' Acme Sp. z o.o. ',
          markup_rate: '1.45',
          monthly_limit_usd: '250.5',
          billing_contact_email: 'billing@acme.example',
        })
        .expect(201);
      expect(created.body).toMatchObject({
        name: 'Acme Sp. z o.o.',
        is_active: true,
        is_default: false,
        markup_rate: 1.45,
        monthly_limit_usd: 250.5,
        monthly_limit_nano_usd: '250500000000',
        billing_contact_email: 'billing@acme.example',
        has_openrouter_key: false,
        instance_id: 'default',
      });
      const id: string = created.body.id;
      const row = await t.db('client_organizations').where({ id }).first();
      expect(String(row.markup_rate_ppm)).toBe('1450000');

      const list = await t.as(ADMIN_TOKEN).get(`${base}/clients`).expect(200);
      expect(list.body.total).toBe(list.body.clients.length);
      expect(list.body.clients.map((c: { id: string }) => c.id)).toContain(id);

      const one = await t.as(ADMIN_TOKEN).get(`${base}/clients/${id}`).expect(200);
      expect(one.body).toEqual(created.body);

      const patched = await t
        .as(ADMIN_TOKEN)
        .patch(`${base}/clients/${id}`)
        .send({ name: 'Acme SA', monthly_limit_usd: null })
        .expect(200);
      expect(patched.body).toMatchObject({ id, name: 'Acme SA', monthly_limit_usd: null, markup_rate: 1.45 });
      expect((await t.as(ADMIN_TOKEN).get(`${base}/clients/${id}`).expect(200)).body.name).toBe('Acme SA');
    });

    it('uses the default markup when none is given', async () => {
      const created = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Plain' }).expect(201);
      expect(created.body.markup_rate).toBe(1.3);
    });

    it('rejects bad bodies with a 400 naming the field', async () => {
      const cases: [object, string][] = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'X', markup_rate: 0 }, 'markup_rate'],
        [{ name: 'X', markup_rate: '1.2345678' }, 'markup_rate'],
        [{ name: 'X', monthly_limit_usd: -5 }, 'monthly_limit_usd'],
        [{ name: 'X', billing_contact_email: 'not-an-email' }, 'billing_contact_email'],
        [{ name: 'X', openrouter_api_key: 'short' }, 'openrouter_api_key'],
        [{ name: 'X', instance_id: 'Has Spaces' }, 'instance_id'],
      ];
      for (const [body, field] of cases) {
        const res = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send(body).expect(400);
        expect(res.body.error.message).toMatch(new RegExp(`^${field}`));
      }
      const created = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Patch target' }).expect(201);
      const empty = await t.as(ADMIN_TOKEN).patch(`${base}/clients/${created.body.id}`).send({}).expect(400);
      expect(empty.body.error.code).toBe('validation_error');
    });

    it('answers a NUL character in text with a 4xx, never a 500, and keeps what is stored', async () => {
      const before = await t.db('client_organizations').count({ n: '*' });
      const res = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Nul\u0000Co' });
      if (kind === 'postgres') {
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('invalid_text');
        expect(await t.db('client_organizations').count({ n: '*' })).toEqual(before);
      } else {
        // SQLite stores the text as given.
        expect(res.status).toBe(201);
      }
    });

    it('answers 404 for an org that does not exist', async () => {
      const res = await t.as(ADMIN_TOKEN).get(`${base}/clients/org_nope`).expect(404);
      expect(res.body.error).toMatchObject({ code: 'not_found' });
      await t.as(ADMIN_TOKEN).patch(`${base}/clients/org_nope`).send({ name: 'x' }).expect(404);
      await t.as(ADMIN_TOKEN).delete(`${base}/clients/org_nope`).expect(404);
    });
  });

  it('DELETE deactivates: the org, its mappings and its usage stay', async () => {
    const base = '/api/v1/client-organizations';
    const org = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Leaving Co' }).expect(201);
    const id: string = org.body.id;
    await t.as(ADMIN_TOKEN).post(`${base}/user-mappings`).send({ user_id: 'leaver', client_org_id: id }).expect(201);
    await t.ingest({ events: [completionEvent({ event_id: 'gen-leaver-1', user: { id: 'leaver' } })] }).expect(200);
    const before = await t.db('usage_daily').where({ client_org_id: id });

    const res = await t.as(ADMIN_TOKEN).delete(`${base}/clients/${id}`).expect(200);
    expect(res.body).toMatchObject({ success: true, client: { id, is_active: false } });

    expect(await t.db('client_organizations').where({ id }).first()).toMatchObject({ name: 'Leaving Co' });
    expect((await t.as(ADMIN_TOKEN).get(`${base}/clients/${id}`).expect(200)).body.is_active).toBe(false);
    expect(await t.db('user_client_mappings').where({ client_org_id: id })).toHaveLength(1);
    expect(await t.db('usage_events').where({ client_org_id: id })).toHaveLength(1);
    expect(await t.db('usage_daily').where({ client_org_id: id })).toEqual(before);
    const billing = await t.as(ADMIN_TOKEN).get(`${base}/usage/billing?month=2026-03`).expect(200);
    const line = billing.body.clients.find((c: { client_org_id: string }) => c.client_org_id === id);
    expect(line).toMatchObject({ is_active: false, requests: 1 });
    // It can be reactivated.
    await t.as(ADMIN_TOKEN).patch(`${base}/clients/${id}`).send({ is_active: true }).expect(200);
    expect((await auditFor(t, id)).map((a) => a.action)).toEqual([
      'organization.create',
      'organization.update',
      'organization.update',
    ]);
  });

  it('keeps markup_rate and instance_id for the operator: an Open WebUI admin gets 403', async () => {
    const base = '/api/v1/client-organizations';
    const create1 = await t
      .as(OWUI_ADMIN)
      .post(`${base}/clients`)
      .send({ name: 'Sneaky', markup_rate: '1.0' })
      .expect(403);
    expect(create1.body.error).toEqual({ code: 'forbidden', message: expect.stringContaining('markup_rate') });
    const create2 = await t
      .as(OWUI_ADMIN)
      .post(`${base}/clients`)
      .send({ name: 'Sneaky', instance_id: 'other' })
      .expect(403);
    expect(create2.body.error.message).toContain('instance_id');

    const own = await t.as(OWUI_ADMIN).post(`${base}/clients`).send({ name: 'Admin Made' }).expect(201);
    // The admin's view holds no markup nor instance.
    expect(own.body).not.toHaveProperty('markup_rate');
    expect(own.body).not.toHaveProperty('instance_id');
    const row = await t.db('client_organizations').where({ id: own.body.id }).first();
    expect(row).toMatchObject({ instance_id: 'default' });
    expect(String(row.markup_rate_ppm)).toBe('1300000');

    await t.as(OWUI_ADMIN).patch(`${base}/clients/${own.body.id}`).send({ markup_rate: 1 }).expect(403);
    await t.as(OWUI_ADMIN).patch(`${base}/clients/${own.body.id}`).send({ instance_id: 'other' }).expect(403);
    expect(String((await t.db('client_organizations').where({ id: own.body.id }).first()).markup_rate_ppm)).toBe(
      '1300000',
    );
    // Other fields are the admin's to change.
    const renamed = await t
      .as(OWUI_ADMIN)
      .patch(`${base}/clients/${own.body.id}`)
      .send({ name: 'Admin Renamed', monthly_limit_usd: 10 })
      .expect(200);
    expect(renamed.body).toMatchObject({ name: 'Admin Renamed', monthly_limit_usd: 10 });
    const audit = await auditFor(t, own.body.id);
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ['admin:admin-1', 'organization.create'],
      ['admin:admin-1', 'organization.update'],
    ]);
  });

  it('shows an Open WebUI admin only the orgs of its own instance', async () => {
    const base = '/client_organizations';
    const other = await t
      .as(ADMIN_TOKEN)
      .post(`${base}/clients`)
      .send({ name: 'Other Tenant', instance_id: 'other' })
      .expect(201);
    expect(other.body.instance_id).toBe('other');
    const id: string = other.body.id;

    const adminList = await t.as(OWUI_ADMIN).get(`${base}/clients`).expect(200);
    expect(adminList.body.clients.map((c: { id: string }) => c.id)).not.toContain(id);
    expect(adminList.body.clients.length).toBeGreaterThan(0);
    expect(adminList.body.total).toBe(adminList.body.clients.length);
    const operatorList = await t.as(ADMIN_TOKEN).get(`${base}/clients`).expect(200);
    expect(operatorList.body.clients.map((c: { id: string }) => c.id)).toContain(id);
    expect(operatorList.body.total).toBe(adminList.body.total + 1);

    for (const call of [
      t.as(OWUI_ADMIN).get(`${base}/clients/${id}`),
      t.as(OWUI_ADMIN).patch(`${base}/clients/${id}`).send({ name: 'Taken over' }),
      t.as(OWUI_ADMIN).delete(`${base}/clients/${id}`),
      t.as(OWUI_ADMIN).get(`${base}/usage/by-user/${id}`),
      t.as(OWUI_ADMIN).get(`${base}/usage/summary?client_id=${id}`),
      t.as(OWUI_ADMIN).post(`${base}/user-mappings`).send({ user_id: 'hijack', client_org_id: id }),
    ]) {
      const res = await call.expect(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(await t.db('client_organizations').where({ id }).first()).toMatchObject({ name: 'Other Tenant' });
    expect(await t.db('user_client_mappings').where({ user_id: 'hijack' })).toHaveLength(0);
  });

  it('does not let an Open WebUI user manage orgs', async () => {
    await t.as('owui-user-token').get('/api/v1/client-organizations/clients').expect(403);
    await t.as('owui-user-token').post('/api/v1/client-organizations/clients').send({ name: 'Mine' }).expect(403);
  });

  it('stores the OpenRouter key encrypted and shows only its masked label', async () => {
    const base = '/api/v1/client-organizations';
    const created = await t
      .as(ADMIN_TOKEN)
      .post(`${base}/clients`)
      .send({ name: 'Keyed', openrouter_api_key: OPENROUTER_KEY })
      .expect(201);
    const id: string = created.body.id;
    expect(created.body).toMatchObject({ has_openrouter_key: true, openrouter_key_label: 'sk-or-v1-012…def' });
    expect(JSON.stringify(created.body)).not.toContain(OPENROUTER_KEY.slice(9, 30));

    const row = await t.db('client_organizations').where({ id }).first();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(OPENROUTER_KEY);
    expect(stored).not.toContain(OPENROUTER_KEY.slice(9));
    expect(row.openrouter_key_encrypted).toMatch(/^v1\./);

    for (const res of [
      await t.as(ADMIN_TOKEN).get(`${base}/clients/${id}`).expect(200),
      await t.as(ADMIN_TOKEN).get(`${base}/clients`).expect(200),
      await t.as(OWUI_ADMIN).get(`${base}/clients`).expect(200),
    ]) {
      expect(JSON.stringify(res.body)).not.toContain(OPENROUTER_KEY.slice(9, 30));
    }

    const rotated = `${OPENROUTER_KEY.slice(0, -6)}zzzzzz`;
    const patched = await t
      .as(ADMIN_TOKEN)
      .patch(`${base}/clients/${id}`)
      .send({ openrouter_api_key: rotated })
      .expect(200);
    expect(patched.body.openrouter_key_label).toBe('sk-or-v1-012…zzz');
    const removed = await t
      .as(ADMIN_TOKEN)
      .patch(`${base}/clients/${id}`)
      .send({ openrouter_api_key: null })
      .expect(200);
    expect(removed.body).toMatchObject({ has_openrouter_key: false, openrouter_key_label: null });

    const audit = await auditFor(t, id);
    expect(audit.map((a) => a.action)).toEqual(['organization.create', 'organization.update', 'organization.update']);
    const auditText = JSON.stringify(audit);
    expect(auditText).not.toContain(OPENROUTER_KEY.slice(9, 30));
    expect(auditText).not.toContain(rotated.slice(9, 30));
    expect(auditText).not.toContain('v1.'); // nor the ciphertext
  });

  it('refuses a key another org already uses with 409, not a 500', async () => {
    const base = '/api/v1/client-organizations';
    const key = 'sk-or-v1-shared000000000000000000000000000000000000000000';
    await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'First', openrouter_api_key: key }).expect(201);
    const second = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Second', openrouter_api_key: key });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain('openrouter_api_key');
    const third = await t.as(ADMIN_TOKEN).post(`${base}/clients`).send({ name: 'Third' }).expect(201);
    const patched = await t.as(ADMIN_TOKEN).patch(`${base}/clients/${third.body.id}`).send({ openrouter_api_key: key });
    expect(patched.status).toBe(409);
  });
});
