import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';
import { createLimitAlerts } from './alerts.service.js';
import { insertAlertIfMissing } from './alerts.store.js';

const BASE = '/api/v1/client-organizations';
const SECRET = 'alert-webhook-secret-0123456789';

type Received = { headers: IncomingHttpHeaders; body: string };

/** A webhook receiver that answers `failNext` requests with 500, then 204. */
async function startReceiver() {
  const received: Received[] = [];
  const state = { failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (state.failNext > 0) {
        state.failNext -= 1;
        res.writeHead(500).end('receiver is down');
      } else {
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/mai/`,
    received,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
function signatureIsValid(received: Received, secret: string): boolean {
  const given = String(received.headers['x-mai-signature'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(received.body).digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

describe.each(databaseKinds)('limit alerts on %s', (kind) => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let orgId: string;
  let sequence = 0;

  const settle = async () => {
    await t.deps.ledger.drain();
    await t.deps.limits.settled();
    await t.deps.alerts.settled();
  };
  /** Spends raw USD (billed × 1.3) for a user at an instant, and waits for the alerts it raises. */
  const spend = async (userId: string, usd: string, occurredAt: string) => {
    sequence += 1;
    await t
      .ingest({
        events: [
          completionEvent({
            event_id: `gen-alert-${sequence}`,
            user: { id: userId },
            occurred_at: occurredAt,
            usage: { input_tokens: 1, output_tokens: 1, cost_usd: usd },
          }),
        ],
      })
      .expect(200);
    await settle();
  };
  const alerts = async (month: string, token = ADMIN_TOKEN) =>
    (await t.as(token).get(`${BASE}/alerts?month=${month}`).expect(200)).body;
  const payloads = () => receiver.received.map((r) => JSON.parse(r.body));

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await createTestApp(kind, {
      now: '2026-03-10T12:00:00Z',
      env: { ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: SECRET },
    });
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Alerted Co', monthly_limit_usd: '1.30' })
      .expect(201);
    orgId = org.body.id;
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'al-a', client_org_id: orgId }).expect(201);
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'al-capped', client_org_id: orgId, monthly_limit_usd: '0.13' })
      .expect(201);
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('fires at 80% and at 100% of the org limit, once each per month, and posts them signed', async () => {
    await spend('al-a', '0.799999999', '2026-03-02T10:00:00Z'); // billed 1.039999999: under 80% of 1.30
    expect((await alerts('2026-03')).alerts).toEqual([]);
    await spend('al-a', '0.000000001', '2026-03-02T10:01:00Z'); // billed 1.04: exactly 80%
    const [eighty] = (await alerts('2026-03')).alerts;
    expect(eighty).toMatchObject({
      client_org_id: orgId,
      client_org_name: 'Alerted Co',
      scope: 'org',
      user_id: null,
      period: '2026-03',
      threshold_pct: 80,
      limit_usd: 1.3,
      limit_nano_usd: '1300000000',
      used_usd: 1.04,
      used_nano_usd: '1040000000',
      created_at: '2026-03-10T12:00:00.000Z',
      delivery_status: 'delivered',
      delivered_at: '2026-03-10T12:00:00.000Z',
      delivery_error: null,
    });
    expect(eighty.message).toContain('80%');

    // The webhook got it, signed over the exact body, with the time inside the signed body.
    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(signatureIsValid(delivery!, SECRET)).toBe(true);
    expect(signatureIsValid(delivery!, 'some-other-secret-0123456789')).toBe(false);
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.headers['x-mai-event']).toBe('limit_alert');
    expect(delivery!.headers['x-mai-delivery']).toBe(String(eighty.id));
    expect(delivery!.headers['x-mai-timestamp']).toBe(String(Date.parse('2026-03-10T12:00:00Z') / 1000));
    const { delivery_status: _s, delivered_at: _d, delivery_error: _e, ...sent } = eighty;
    expect(JSON.parse(delivery!.body)).toEqual({
      type: 'limit_alert',
      sent_at: '2026-03-10T12:00:00.000Z',
      alert: sent,
    });

    await spend('al-a', '0.1', '2026-03-03T10:00:00Z'); // billed 1.17: 90%, nothing new
    expect((await alerts('2026-03')).alerts).toHaveLength(1);
    await spend('al-a', '0.1', '2026-03-04T10:00:00Z'); // billed 1.30: 100%
    await spend('al-a', '0.1', '2026-03-05T10:00:00Z'); // past 100%: nothing new
    const march = (await alerts('2026-03')).alerts;
    expect(march.map((a: { threshold_pct: number; scope: string }) => [a.scope, a.threshold_pct])).toEqual([
      ['org', 80],
      ['org', 100],
    ]);
    expect(march[1]).toMatchObject({ used_nano_usd: '1300000000', delivery_status: 'delivered' });
    expect(payloads().map((p) => p.alert.threshold_pct)).toEqual([80, 100]);
    expect(receiver.received.every((r) => signatureIsValid(r, SECRET))).toBe(true);
  });

  it('fires for a user limit, and again only once after a restart', async () => {
    await spend('al-capped', '0.08', '2026-03-06T10:00:00Z'); // billed 0.104 of 0.13: 80%
    await spend('al-capped', '0.03', '2026-03-06T11:00:00Z'); // billed 0.143: 100%
    const userAlerts = (await alerts('2026-03')).alerts.filter((a: { scope: string }) => a.scope === 'user');
    expect(userAlerts).toMatchObject([
      { user_id: 'al-capped', threshold_pct: 80, used_nano_usd: '104000000', limit_nano_usd: '130000000' },
      { user_id: 'al-capped', threshold_pct: 100, used_nano_usd: '143000000' },
    ]);
    // A restarted sidecar (empty memory) meeting the same levels adds and sends nothing.
    const before = receiver.received.length;
    const restarted = createLimitAlerts({
      db: t.db,
      instanceId: t.config.instanceId,
      webhook: t.config.alertWebhook,
      logger: pino({ level: 'silent' }),
      now: () => new Date('2026-03-20T10:00:00Z'),
    });
    restarted.consider([
      {
        clientOrgId: orgId,
        userId: 'al-capped',
        period: '2026-03',
        limitNanoUsd: 130_000_000n,
        usedNanoUsd: 200_000_000n,
      },
      { clientOrgId: orgId, userId: '', period: '2026-03', limitNanoUsd: 1_300_000_000n, usedNanoUsd: 1_500_000_000n },
    ]);
    await restarted.settled();
    expect((await alerts('2026-03')).total).toBe(4);
    expect(receiver.received).toHaveLength(before);
  });

  it('starts again the next month (at Warsaw midnight)', async () => {
    t.setNow('2026-03-31T22:30:00Z'); // 00:30 on 1 April in Warsaw
    await spend('al-a', '1', '2026-03-31T22:20:00Z'); // billed 1.30 in April: 80% and 100% at once
    const april = (await alerts('2026-04')).alerts;
    expect(april.map((a: { threshold_pct: number }) => a.threshold_pct)).toEqual([80, 100]);
    expect(april[0]).toMatchObject({ period: '2026-04', used_nano_usd: '1300000000' });
    expect((await alerts('2026-03')).total).toBe(4);
    // The default month is the current one in the billing time zone.
    expect((await t.as(ADMIN_TOKEN).get(`${BASE}/alerts`).expect(200)).body.month).toBe('2026-04');
  });

  it('retries a failed delivery from the job, with backoff, until delivered', async () => {
    t.setNow('2026-05-10T12:00:00Z');
    receiver.state.failNext = 2;
    const before = receiver.received.length;
    await spend('al-capped', '0.08', '2026-05-02T10:00:00Z'); // user 80% in May
    let [alert] = (await alerts('2026-05')).alerts;
    expect(alert).toMatchObject({
      threshold_pct: 80,
      delivery_status: 'retrying',
      delivered_at: null,
      delivery_error: 'HTTP 500: receiver is down',
    });
    // Backing off: a run right away does not post again.
    await t.deps.scheduler.runNow('limit-alerts');
    expect(receiver.received).toHaveLength(before + 1);
    t.setNow('2026-05-10T12:01:00Z'); // 1 min later: second attempt, fails again
    await t.deps.scheduler.runNow('limit-alerts');
    expect(receiver.received).toHaveLength(before + 2);
    t.setNow('2026-05-10T12:02:30Z'); // backoff now 2 min: not yet
    await t.deps.scheduler.runNow('limit-alerts');
    expect(receiver.received).toHaveLength(before + 2);
    t.setNow('2026-05-10T12:03:00Z');
    await t.deps.scheduler.runNow('limit-alerts');
    expect(receiver.received).toHaveLength(before + 3);
    [alert] = (await alerts('2026-05')).alerts;
    expect(alert).toMatchObject({
      delivery_status: 'delivered',
      delivered_at: '2026-05-10T12:03:00.000Z',
      delivery_error: null,
    });
    // Every attempt carried the same alert id, each signed afresh with its own time.
    const attempts = receiver.received.slice(before);
    expect(new Set(attempts.map((r) => r.headers['x-mai-delivery']))).toEqual(new Set([String(alert.id)]));
    expect(attempts.map((r) => JSON.parse(r.body).sent_at)).toEqual([
      '2026-05-10T12:00:00.000Z',
      '2026-05-10T12:01:00.000Z',
      '2026-05-10T12:03:00.000Z',
    ]);
    expect(attempts.every((r) => signatureIsValid(r, SECRET))).toBe(true);
    // Delivered: later runs leave it alone.
    t.setNow('2026-05-10T13:00:00Z');
    await t.deps.scheduler.runNow('limit-alerts');
    expect(receiver.received).toHaveLength(before + 3);
  });

  it('raises from the job what usage written elsewhere crossed', async () => {
    t.setNow('2026-06-10T12:00:00Z');
    // Another sidecar's write: straight into the rollup, never seen by this process's ledger.
    await t.db('usage_daily').insert({
      client_org_id: orgId,
      usage_day: '2026-06-02',
      user_id: 'al-a',
      model: 'elsewhere/model',
      requests: 1,
      input_tokens: 1,
      output_tokens: 1,
      cached_tokens: 0,
      reasoning_tokens: 0,
      raw_cost_nano_usd: '1000000000',
      billed_cost_nano_usd: '1200000000',
      pending_cost_requests: 0,
      updated_at: '2026-06-02T10:00:00Z',
    });
    await t.deps.scheduler.runNow('limit-alerts');
    await settle();
    expect((await alerts('2026-06')).alerts).toMatchObject([{ scope: 'org', threshold_pct: 80 }]);
  });

  it('lists all orgs for the operator and only its instance’s for an admin; not for users', async () => {
    const other = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Other Tenant', monthly_limit_usd: '1', instance_id: 'other-instance' })
      .expect(201);
    await insertAlertIfMissing(t.db, {
      clientOrgId: other.body.id,
      userId: '',
      period: '2026-03',
      thresholdPct: 80,
      limitNanoUsd: 1_000_000_000n,
      usedNanoUsd: 800_000_000n,
      createdAt: '2026-03-05T10:00:00.000Z',
    });
    const operator = await alerts('2026-03');
    expect(operator.total).toBe(5);
    expect(operator.alerts.map((a: { client_org_id: string }) => a.client_org_id)).toContain(other.body.id);
    const admin = await alerts('2026-03', 'owui-admin-token');
    expect(admin.total).toBe(4);
    expect(admin.alerts.every((a: { client_org_id: string }) => a.client_org_id === orgId)).toBe(true);
    // The other instance's alert is its sidecar's to deliver.
    expect((await t.deps.alerts.deliverPending()).pending).toBe(0);
    const one = await t.as(ADMIN_TOKEN).get(`${BASE}/alerts?month=2026-03&client_org_id=${other.body.id}`).expect(200);
    expect(one.body.total).toBe(1);
    await t.as('owui-user-token').get(`${BASE}/alerts`).expect(403);
    const bad = await t.as(ADMIN_TOKEN).get(`${BASE}/alerts?month=2026-13`).expect(400);
    expect(bad.body.error.message).toMatch(/^month/);
  });
});

describe.each(databaseKinds)('limit alerts without a webhook on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());

  it('are stored and listed as not configured', async () => {
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Quiet Co', monthly_limit_usd: '0.13' })
      .expect(201);
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'quiet-u', client_org_id: org.body.id })
      .expect(201);
    await t
      .ingest({
        events: [
          completionEvent({ user: { id: 'quiet-u' }, usage: { input_tokens: 1, output_tokens: 1, cost_usd: '0.5' } }),
        ],
      })
      .expect(200);
    await t.deps.limits.settled();
    await t.deps.alerts.settled();
    const body = (await t.as(ADMIN_TOKEN).get(`${BASE}/alerts?month=2026-03`).expect(200)).body;
    expect(body.alerts).toMatchObject([
      { threshold_pct: 80, delivery_status: 'not_configured', delivered_at: null },
      { threshold_pct: 100, delivery_status: 'not_configured', delivered_at: null },
    ]);
    expect(await t.deps.alerts.deliverPending()).toEqual({ pending: 0, delivered: 0, failed: 0 });
  });
});

describe('alert webhook configuration', () => {
  const base = {
    DATABASE_PATH: '/tmp/mai-alerts-config/x.db',
    INGEST_TOKEN: 'i'.repeat(16),
    ADMIN_TOKEN: 'a'.repeat(16),
    ENCRYPTION_KEY: '0'.repeat(64),
  };

  it('is optional, needs a secret with a URL, and keeps the URL as given', () => {
    expect(loadConfig(base).alertWebhook).toBeUndefined();
    expect(() => loadConfig({ ...base, ALERT_WEBHOOK_URL: 'https://hooks.example/mai' })).toThrow(
      /ALERT_WEBHOOK_SECRET is required when ALERT_WEBHOOK_URL is set/,
    );
    expect(() =>
      loadConfig({ ...base, ALERT_WEBHOOK_URL: 'ftp://hooks.example', ALERT_WEBHOOK_SECRET: SECRET }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfig({ ...base, ALERT_WEBHOOK_URL: 'https://hooks.example/', ALERT_WEBHOOK_SECRET: 'short' }),
    ).toThrow(/ALERT_WEBHOOK_SECRET must be at least 16 characters/);
    expect(
      loadConfig({ ...base, ALERT_WEBHOOK_URL: 'https://hooks.example/mai/', ALERT_WEBHOOK_SECRET: SECRET })
        .alertWebhook,
    ).toEqual({
      url: 'https://hooks.example/mai/',
      secret: SECRET,
    });
  });
});
