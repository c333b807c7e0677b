import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
let sequence = 0;

const check = (t: TestApp, userId: string) =>
  t
    .as(INGEST_TOKEN)
    .get(`/api/v1/limits/check?user_id=${encodeURIComponent(userId)}`)
    .expect(200);

/** Spends `usd` of raw cost for a user at an instant. */
async function spend(t: TestApp, userId: string, usd: string, occurredAt: string) {
  sequence += 1;
  await t
    .as(INGEST_TOKEN)
    .post('/api/v1/ingest/events')
    .send({
      events: [
        completionEvent({
          event_id: `gen-limit-${sequence}`,
          user: { id: userId },
          occurred_at: occurredAt,
          usage: { input_tokens: 1, output_tokens: 1, cost_usd: usd },
        }),
      ],
    })
    .expect(200);
}

describe.each(databaseKinds)('limit check on %s', (kind) => {
  let t: TestApp;
  let orgId: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-20T12:00:00Z' });
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Capped Co', monthly_limit_usd: '1.00' })
      .expect(201);
    orgId = org.body.id;
    for (const user of ['capped-a', 'capped-b']) {
      await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: user, client_org_id: orgId }).expect(201);
    }
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'capped-user', client_org_id: orgId, monthly_limit_usd: '0.5' })
      .expect(201);
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'exact-user', client_org_id: orgId, monthly_limit_usd: '0.13' })
      .expect(201);
  });
  afterAll(async () => t?.close());

  it('allows a user with no limits, even one never seen', async () => {
    expect((await check(t, 'nobody-yet')).body).toEqual({
      allowed: true,
      scope: null,
      message: null,
      limit_usd: null,
      used_usd: null,
      resets_at: null,
    });
  });

  it('blocks a user over their own limit, and only them', async () => {
    await spend(t, 'capped-user', '0.3', '2026-03-05T10:00:00Z'); // billed 0.39
    expect((await check(t, 'capped-user')).body.allowed).toBe(true);
    await spend(t, 'capped-user', '0.1', '2026-03-06T10:00:00Z'); // billed 0.52 in total
    const res = await check(t, 'capped-user');
    expect(res.body).toMatchObject({
      allowed: false,
      scope: 'user',
      limit_usd: 0.5,
      used_usd: 0.52,
      resets_at: '2026-04-01T00:00:00.000+02:00',
    });
    expect(res.body.message).toContain('$0.5');
    expect(res.body.message).toContain('2026-04-01');
    // The org (0.52 of 1.00) and its other users may go on.
    expect((await check(t, 'capped-a')).body.allowed).toBe(true);
  });

  it('blocks a user who used exactly their limit', async () => {
    await spend(t, 'exact-user', '0.099999999', '2026-03-05T11:00:00Z'); // billed 0.1299999987 → 0.129999999
    expect((await check(t, 'exact-user')).body.allowed).toBe(true);
    await spend(t, 'exact-user', '0.000000001', '2026-03-05T11:01:00Z'); // billed 0.130000000 in total
    expect((await check(t, 'exact-user')).body).toMatchObject({
      allowed: false,
      scope: 'user',
      limit_usd: 0.13,
      used_usd: 0.13,
    });
  });

  it('blocks everyone in an org over the org limit, with the message and next month start in Warsaw', async () => {
    await spend(t, 'capped-a', '0.1', '2026-03-07T10:00:00Z'); // org billed 0.78 (with exact-user's 0.13)
    expect((await check(t, 'capped-b')).body.allowed).toBe(true);
    await spend(t, 'capped-b', '0.2', '2026-03-08T10:00:00Z'); // org billed 1.04
    for (const user of ['capped-a', 'capped-b', 'capped-user']) {
      const res = await check(t, user);
      expect(res.body).toMatchObject({
        allowed: false,
        scope: 'org',
        limit_usd: 1,
        used_usd: 1.04,
        resets_at: '2026-04-01T00:00:00.000+02:00',
      });
      expect(res.body.message).toContain('Capped Co');
      expect(res.body.message).toContain('$1');
      expect(res.body.message).toContain('2026-04-01');
    }
    // Another org is not affected.
    expect((await check(t, 'someone-else')).body.allowed).toBe(true);
  });

  it('counts the Warsaw month: usage before local month start does not count', async () => {
    // 22:30 UTC on 31 March is 00:30 on 1 April in Warsaw: a new month, nothing used yet.
    t.setNow('2026-03-31T21:59:59Z');
    expect((await check(t, 'capped-a')).body.allowed).toBe(false);
    t.setNow('2026-03-31T22:00:00Z');
    expect((await check(t, 'capped-a')).body.allowed).toBe(true);
    // Usage at 00:10 local on 1 April (still 31 March in UTC) counts for April.
    await spend(t, 'capped-user', '0.4', '2026-03-31T22:10:00Z'); // billed 0.52
    const res = await check(t, 'capped-user');
    expect(res.body).toMatchObject({
      allowed: false,
      scope: 'user',
      used_usd: 0.52,
      resets_at: '2026-05-01T00:00:00.000+02:00',
    });
  });

  it('gives the reset in winter time after the October change', async () => {
    t.setNow('2026-10-25T12:00:00Z');
    await spend(t, 'capped-user', '1', '2026-10-25T01:30:00Z');
    expect((await check(t, 'capped-user')).body.resets_at).toBe('2026-11-01T00:00:00.000+01:00');
    t.setNow('2026-12-31T23:30:00Z'); // 00:30 on 1 January 2027 in Warsaw
    expect((await check(t, 'capped-user')).body.allowed).toBe(true);
  });

  it('is for the ingest token and the operator; user_id is required', async () => {
    const res = await t.as(INGEST_TOKEN).get('/api/v1/limits/check').expect(400);
    expect(res.body.error.message).toMatch(/^user_id/);
    await t.as(ADMIN_TOKEN).get('/api/v1/limits/check?user_id=capped-a').expect(200);
    await t.as('owui-admin-token').get('/api/v1/limits/check?user_id=capped-a').expect(403);
    await request(t.app).get('/api/v1/limits/check?user_id=capped-a').expect(401);
  });
});
