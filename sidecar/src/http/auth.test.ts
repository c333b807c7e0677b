import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../test-support/harness.js';

const BASE = '/api/v1/client-organizations';
const ORIGIN = 'https://chat.client.example';

describe.each(databaseKinds)('authentication on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());
  afterEach(() => {
    t.openWebUi.failing = false;
  });

  it('answers 401 without a token or with one nobody knows, in the one error shape', async () => {
    const missing = await request(t.app).get(`${BASE}/clients`).expect(401);
    expect(missing.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    await request(t.app).get(`${BASE}/clients`).set('authorization', `Basic ${ADMIN_TOKEN}`).expect(401);
    await request(t.app).get(`${BASE}/clients`).set('authorization', 'Bearer ').expect(401);
    const wrong = await t.as('not-a-known-token').get(`${BASE}/clients`).expect(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    // A prefix or an extension of the operator token is not the operator token.
    await t.as(ADMIN_TOKEN.slice(0, -1)).get(`${BASE}/clients`).expect(401);
    await t.as(`${ADMIN_TOKEN}x`).get(`${BASE}/clients`).expect(401);
    await request(t.app)
      .post('/api/v1/ingest/events')
      .send({ events: [completionEvent()] })
      .expect(401);
    await request(t.app).get('/api/v1/limits/check?user_id=user-1').expect(401);
    await request(t.app).get('/api/v1/usage-tracking/usage/real-time/org_x').expect(401);
  });

  it('lets no pending Open WebUI user in', async () => {
    const res = await t.as('owui-pending-token').get(`${BASE}/usage/my-organization`);
    expect([401, 403]).toContain(res.status);
    expect(res.body.error.code).toMatch(/unauthorized|forbidden/);
  });

  it('denies by default: each caller reaches only its routes', async () => {
    await t.as(INGEST_TOKEN).get(`${BASE}/clients`).expect(403);
    await t.as(INGEST_TOKEN).get(`${BASE}/usage/my-organization`).expect(403);
    await t.as('owui-user-token').get(`${BASE}/clients`).expect(403);
    await t.as('owui-user-token').get('/api/v1/limits/check?user_id=user-1').expect(403);
    await t.as('owui-admin-token').get('/api/v1/limits/check?user_id=user-1').expect(403);
    await t
      .as('owui-admin-token')
      .post('/api/v1/ingest/events')
      .send({ events: [completionEvent()] })
      .expect(403);
    await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).expect(200);
    await t.as('owui-admin-token').get(`${BASE}/clients`).expect(200);
  });

  it('caches an Open WebUI lookup for up to 60 s, then asks again and sees role changes', async () => {
    t.setNow('2030-01-01T00:00:00Z');
    t.openWebUi.users.set('cache-token', { id: 'cache-1', email: 'c@x.example', name: 'C', role: 'user' });

    await t.as('cache-token').get(`${BASE}/clients`).expect(403);
    const afterFirst = t.openWebUi.calls;
    // Promoted in Open WebUI; within the cache window the sidecar still knows the old role.
    t.openWebUi.users.set('cache-token', { id: 'cache-1', email: 'c@x.example', name: 'C', role: 'admin' });
    t.setNow('2030-01-01T00:00:59Z');
    await t.as('cache-token').get(`${BASE}/clients`).expect(403);
    await t.as('cache-token').get(`${BASE}/usage/my-organization`);
    expect(t.openWebUi.calls).toBe(afterFirst);

    t.setNow('2030-01-01T00:01:01Z');
    await t.as('cache-token').get(`${BASE}/clients`).expect(200);
    expect(t.openWebUi.calls).toBe(afterFirst + 1);

    // Removed from Open WebUI: refused once the cached identity expires.
    t.openWebUi.users.delete('cache-token');
    t.setNow('2030-01-01T00:02:02Z');
    await t.as('cache-token').get(`${BASE}/clients`).expect(401);
    expect(t.openWebUi.calls).toBe(afterFirst + 2);
  });

  it('never asks Open WebUI about the operator or ingest tokens', async () => {
    const before = t.openWebUi.calls;
    await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).expect(200);
    await t.as(INGEST_TOKEN).get('/api/v1/limits/check?user_id=user-1').expect(200);
    expect(t.openWebUi.calls).toBe(before);
  });

  it('answers 503 in the error shape when Open WebUI fails, and recovers', async () => {
    t.openWebUi.users.set('flaky-token', { id: 'flaky', email: 'f@x.example', name: 'F', role: 'admin' });
    t.openWebUi.failing = true;
    const res = await t.as('flaky-token').get(`${BASE}/clients`).expect(503);
    expect(res.body).toEqual({ error: { code: 'auth_unavailable', message: expect.stringContaining('Open WebUI') } });
    t.openWebUi.failing = false;
    // The failure was not cached as "unknown token".
    await t.as('flaky-token').get(`${BASE}/clients`).expect(200);
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    for (const res of [
      await request(t.app).get('/nope').expect(404),
      await request(t.app).post('/api/v1/nope').send({}).expect(404),
      await t.as(ADMIN_TOKEN).get(`${BASE}/nope`).expect(404),
      await t.as(ADMIN_TOKEN).get('/api/v1/usage-tracking/nope').expect(404),
    ]) {
      expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    }
  });

  it('answers a body that is not JSON with 400, never 500', async () => {
    const res = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .set('content-type', 'application/json')
      .send('{"name": ')
      .expect(400);
    expect(res.body.error.code).toBe('invalid_json');
  });
});

describe('Open WebUI unreachable', () => {
  it('answers 503, not 500 or 401', async () => {
    const t = await createTestApp('sqlite');
    try {
      await t.openWebUi.close();
      const res = await t.as('owui-admin-token').get(`${BASE}/clients`).expect(503);
      expect(res.body).toEqual({ error: { code: 'auth_unavailable', message: expect.any(String) } });
      await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).expect(200);
    } finally {
      t.openWebUi.close = async () => undefined;
      await t.close();
    }
  });
});

describe('CORS', () => {
  it('allows only PUBLIC_OPENWEBUI_ORIGIN', async () => {
    const t = await createTestApp('sqlite', { env: { PUBLIC_OPENWEBUI_ORIGIN: ORIGIN } });
    try {
      const allowed = await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).set('origin', ORIGIN).expect(200);
      expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
      // A browser on another origin is never told it may read: the header names only Open WebUI.
      const other = await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).set('origin', 'https://evil.example');
      expect([undefined, ORIGIN]).toContain(other.headers['access-control-allow-origin']);

      const preflight = await request(t.app)
        .options(`${BASE}/usage/my-organization`)
        .set('origin', ORIGIN)
        .set('access-control-request-method', 'GET')
        .set('access-control-request-headers', 'authorization');
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
      const evilPreflight = await request(t.app)
        .options(`${BASE}/usage/my-organization`)
        .set('origin', 'https://evil.example')
        .set('access-control-request-method', 'GET');
      expect([undefined, ORIGIN]).toContain(evilPreflight.headers['access-control-allow-origin']);
    } finally {
      await t.close();
    }
  });

  it('allows no origin at all when PUBLIC_OPENWEBUI_ORIGIN is not set', async () => {
    const t = await createTestApp('sqlite');
    try {
      const res = await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).set('origin', ORIGIN).expect(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('rate limiting', () => {
  it('limits the read and admin API per token, but never ingest or the limit check', async () => {
    const t = await createTestApp('sqlite', { env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      for (let i = 0; i < 3; i += 1) await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).expect(200);
      const limited = await t.as(ADMIN_TOKEN).get(`${BASE}/clients`).expect(429);
      expect(limited.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
      // The same counter covers both mount points and the usage-tracking API.
      await t.as(ADMIN_TOKEN).get('/client_organizations/clients').expect(429);
      await t.as(ADMIN_TOKEN).get('/api/v1/usage-tracking/usage/real-time/org_x').expect(429);
      // Another caller has its own budget.
      await t.as('owui-admin-token').get(`${BASE}/clients`).expect(200);

      // Usage is never refused: far more ingest requests than the limit all succeed.
      for (let i = 0; i < 10; i += 1) {
        await t
          .as(INGEST_TOKEN)
          .post('/api/v1/ingest/events')
          .send({ events: [completionEvent({ event_id: `gen-rl-${i}` })] })
          .expect(200);
        await t.as(INGEST_TOKEN).get('/api/v1/limits/check?user_id=user-1').expect(200);
      }
      // Even the operator whose read budget is spent can still run the limit check.
      await t.as(ADMIN_TOKEN).get('/api/v1/limits/check?user_id=user-1').expect(200);
      const [row] = await t.db('usage_events').where('event_id', 'like', 'gen-rl-%').count({ n: '*' });
      expect(Number(row?.n)).toBe(10);
    } finally {
      await t.close();
    }
  });
});

describe('failed authentication', () => {
  it('throttles an address that keeps presenting unknown tokens, but never ingest', async () => {
    const t = await createTestApp('sqlite');
    try {
      for (let i = 0; i < 60; i += 1) await t.as(`guess-${i}`).get(`${BASE}/clients`).expect(401);
      const throttled = await t.as('guess-final').get(`${BASE}/clients`).expect(429);
      expect(throttled.body.error.code).toBe('rate_limited');
      const callsBefore = t.openWebUi.calls;
      await t.as('guess-more').get('/api/v1/usage-tracking/usage/real-time/x').expect(429);
      expect(t.openWebUi.calls).toBe(callsBefore); // throttled before asking Open WebUI
      await t
        .as(INGEST_TOKEN)
        .post('/api/v1/ingest/events')
        .send({ events: [completionEvent()] })
        .expect(200);
    } finally {
      await t.close();
    }
  });

  it('does not count successful or forbidden requests', async () => {
    const t = await createTestApp('sqlite');
    try {
      for (let i = 0; i < 70; i += 1) await t.as('owui-user-token').get(`${BASE}/clients`).expect(403);
      await t.as('owui-admin-token').get(`${BASE}/clients`).expect(200);
    } finally {
      await t.close();
    }
  });
});
