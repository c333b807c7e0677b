import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeOpenRouter, type FakeOpenRouter } from '../../../../test/fakes/openrouter/fake-openrouter.js';
import { sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';
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
    .ingest({
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

/** Waits until loads, alerts and their deliveries started so far are done. */
async function settle(t: TestApp) {
  await t.deps.ledger.drain();
  await t.deps.limits.settled();
  await t.deps.alerts.settled();
}

/** A month's billed cost per user of an org, read from the database (zeros left out). */
async function usageInDb(t: TestApp, orgId: string, month: string): Promise<Record<string, string>> {
  const rows: Record<string, unknown>[] = await t
    .db('usage_daily')
    .select('user_id', sumText(t.db, 'billed_cost_nano_usd', 'billed'))
    .where('client_org_id', orgId)
    .whereBetween('usage_day', [`${month}-01`, `${month}-31`])
    .groupBy('user_id');
  const byUser: Record<string, string> = {};
  let total = 0n;
  for (const row of rows) {
    const billed = toBigInt(row.billed);
    total += billed;
    if (billed !== 0n) byUser[String(row.user_id)] = billed.toString();
  }
  return { ...byUser, '*total*': total.toString() };
}

/** The same from the limit check's memory. */
function usageInMemory(t: TestApp, orgId: string): Record<string, string> | undefined {
  const usage = t.deps.limits.usageOf(orgId);
  if (!usage) return undefined;
  const byUser: Record<string, string> = {};
  for (const [userId, billed] of usage.users) if (billed !== 0n) byUser[userId] = billed.toString();
  return { ...byUser, '*total*': usage.totalNanoUsd.toString() };
}

/** Counts the SQL statements run while `work` runs. */
async function countQueries(t: TestApp, work: () => Promise<void>): Promise<string[]> {
  const queries: string[] = [];
  const listener = (query: { sql: string }) => queries.push(query.sql);
  t.db.on('query', listener);
  try {
    await work();
  } finally {
    t.db.removeListener('query', listener);
  }
  return queries;
}

const correct = (t: TestApp, body: Record<string, unknown>) =>
  t
    .as(ADMIN_TOKEN)
    .post('/api/v1/usage-tracking/usage/manual-record')
    .send({ model: 'manual/correction', reason: 'refund for a failed answer', ...body })
    .expect(201);

describe.each(databaseKinds)('limit check from memory on %s', (kind) => {
  let t: TestApp;
  let orgId: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-05-20T12:00:00Z' });
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Memory Co', monthly_limit_usd: '1.00' })
      .expect(201);
    orgId = org.body.id;
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'mem-a', client_org_id: orgId }).expect(201);
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'mem-capped', client_org_id: orgId, monthly_limit_usd: '0.5' })
      .expect(201);
  });
  afterAll(async () => t?.close());

  it('answers from memory: no database query per check once loaded', async () => {
    await spend(t, 'mem-a', '0.1', '2026-05-02T10:00:00Z');
    await check(t, 'mem-a'); // loads the limits and the org's month
    await check(t, 'unmapped-user');
    await settle(t);
    const queries = await countQueries(t, async () => {
      for (let i = 0; i < 200; i++) {
        expect((await check(t, i % 2 ? 'mem-a' : 'mem-capped')).body.allowed).toBe(true);
      }
      await check(t, 'unmapped-user');
      for (let i = 0; i < 10_000; i++) t.deps.limits.checkFromMemory('mem-capped');
    });
    expect(queries).toEqual([]);
  });

  it('stays consistent with the ledger through ingest, duplicates and negative corrections', async () => {
    await spend(t, 'mem-capped', '0.3', '2026-05-03T10:00:00Z'); // billed 0.39
    const duplicate = completionEvent({
      event_id: 'gen-mem-dup',
      user: { id: 'mem-capped' },
      occurred_at: '2026-05-03T11:00:00Z',
      usage: { input_tokens: 1, output_tokens: 1, cost_usd: '0.1' },
    });
    for (let i = 0; i < 2; i++) {
      await t.ingest({ events: [duplicate] }).expect(200);
    }
    // Billed 0.39 + 0.13 = 0.52 of 0.5: blocked, from memory.
    expect((await check(t, 'mem-capped')).body).toMatchObject({ allowed: false, scope: 'user', used_usd: 0.52 });
    expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, '2026-05'));

    // A refund (a negative manual event) lets the user go on at once.
    await correct(t, {
      client_org_id: orgId,
      user_id: 'mem-capped',
      cost: '-0.1',
      occurred_at: '2026-05-04T10:00:00Z',
    });
    expect((await check(t, 'mem-capped')).body.allowed).toBe(true); // billed 0.52 - 0.13 = 0.39
    expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, '2026-05'));
    // A correction dated in another month changes nothing this month.
    await correct(t, { client_org_id: orgId, user_id: 'mem-capped', cost: '-5', occurred_at: '2026-04-10T10:00:00Z' });
    expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, '2026-05'));
    expect(t.deps.limits.usageOf(orgId)?.users.get('mem-capped')).toBe(390_000_000n);
  });

  it('stays consistent when usage is re-read while the ledger commits', async () => {
    const events = (round: number, user: string) =>
      Array.from({ length: 5 }, (_, i) =>
        completionEvent({
          event_id: `gen-race-${round}-${user}-${i}`,
          user: { id: user },
          occurred_at: '2026-05-10T10:00:00Z',
          usage: { input_tokens: 1, output_tokens: 1, cost_usd: '0.000123457' },
        }),
      );
    for (let round = 0; round < 8; round++) {
      await Promise.all([
        t.ingest({ events: events(round, 'mem-a') }).expect(200),
        t.deps.limits.refresh(),
        t.ingest({ events: events(round, 'mem-capped') }).expect(200),
        correct(t, {
          client_org_id: orgId,
          user_id: 'mem-a',
          cost: '-0.000000007',
          occurred_at: '2026-05-10T10:00:00Z',
        }),
        t.deps.limits.refresh(),
      ]);
      await settle(t);
      expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, '2026-05'));
    }
  });

  it('tells commits the snapshot holds from those it does not, by event id and cost status', async () => {
    const org = await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Snap Co', monthly_limit_usd: '100' });
    const snapOrg: string = org.body.id;
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'snap-u', client_org_id: snapOrg })
      .expect(201);
    await spend(t, 'snap-u', '0.2', '2026-05-12T10:00:00Z');
    const pending = completionEvent({
      event_id: 'gen-snap-pending',
      user: { id: 'snap-u' },
      occurred_at: '2026-05-12T11:00:00Z',
      usage: { input_tokens: 1, output_tokens: 1 },
    });
    await t.ingest({ events: [pending] }).expect(200);
    await settle(t);
    const stored = await t.db('usage_events').where({ client_org_id: snapOrg }).orderBy('id');
    expect(stored.map((row) => row.cost_status)).toEqual(['reported', 'pending']);
    const change = (eventId: string, billed: bigint) => ({
      eventId,
      clientOrgId: snapOrg,
      userId: 'snap-u',
      usageDay: '2026-05-12',
      billedCostNanoUsd: billed,
    });
    // Reported while the snapshot is open (at its closing round trip), as racing commits are.
    let armed = true;
    const listener = (query: { sql: string }) => {
      if (!armed || query.sql !== 'SELECT 1') return;
      armed = false;
      t.deps.limits.applyCommitted([change(stored[0].event_id, 1n)]); // held by the snapshot: not again
      t.deps.limits.applyCommitted([change('gen-snap-after', 7n)]); // committed after it: added
      t.deps.limits.applyCostFilled([change(stored[0].event_id, 100n)]); // its cost is not pending there: held
      t.deps.limits.applyCostFilled([change('gen-snap-pending', 11n)]); // still pending there: added
    };
    t.db.on('query', listener);
    try {
      await t.deps.limits.refresh();
    } finally {
      t.db.removeListener('query', listener);
    }
    expect(armed).toBe(false);
    const inDb = await usageInDb(t, snapOrg, '2026-05');
    expect(t.deps.limits.usageOf(snapOrg)?.totalNanoUsd).toBe(BigInt(inDb['*total*']!) + 18n);
    await t.deps.limits.refresh();
    expect(usageInMemory(t, snapOrg)).toEqual(inDb);
  });

  it('applies limit changes made through the API to the next check', async () => {
    await spend(t, 'mem-a', '0.5', '2026-05-11T10:00:00Z'); // the org passes 1.00
    expect((await check(t, 'mem-a')).body).toMatchObject({ allowed: false, scope: 'org' });
    await t.as(ADMIN_TOKEN).patch(`${BASE}/clients/${orgId}`).send({ monthly_limit_usd: '50' }).expect(200);
    expect((await check(t, 'mem-a')).body.allowed).toBe(true);
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'mem-a', client_org_id: orgId, monthly_limit_usd: '0.2' })
      .expect(201);
    expect((await check(t, 'mem-a')).body).toMatchObject({ allowed: false, scope: 'user', limit_usd: 0.2 });
    await t.as(ADMIN_TOKEN).delete(`${BASE}/user-mappings/mem-a`).expect(200);
    // Unmapped: the default org, which has no limit.
    expect((await check(t, 'mem-a')).body.allowed).toBe(true);
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'mem-a', client_org_id: orgId }).expect(201);
  });

  it('sees limits changed by another sidecar within the TTL, answering meanwhile from memory', async () => {
    expect((await check(t, 'mem-a')).body.allowed).toBe(true); // org limit $50, read after the last change
    await t.db('client_organizations').where({ id: orgId }).update({ monthly_limit_nano_usd: '1000000' });
    expect((await check(t, 'mem-a')).body.allowed).toBe(true); // still $50 in memory
    t.setNow('2026-05-20T12:00:31Z');
    const queries = await countQueries(t, async () => {
      // Answered at once from memory; the re-read runs behind it.
      expect((await check(t, 'mem-a')).body.allowed).toBe(true);
      await settle(t);
    });
    expect(queries.length).toBeGreaterThan(0);
    expect((await check(t, 'mem-a')).body).toMatchObject({ allowed: false, scope: 'org', limit_usd: 0.001 });
    await t.as(ADMIN_TOKEN).patch(`${BASE}/clients/${orgId}`).send({ monthly_limit_usd: '1' }).expect(200);
  });

  it('starts the month at zero at Warsaw midnight and keeps the new month current', async () => {
    expect((await check(t, 'mem-a')).body).toMatchObject({ allowed: false, scope: 'org' });
    t.setNow('2026-05-31T21:59:59.999Z'); // 23:59:59.999 on 31 May in Warsaw
    expect((await check(t, 'mem-a')).body).toMatchObject({
      allowed: false,
      resets_at: '2026-06-01T00:00:00.000+02:00',
    });
    t.setNow('2026-05-31T22:00:00Z'); // midnight, 1 June
    expect((await check(t, 'mem-a')).body.allowed).toBe(true);
    expect(t.deps.limits.usageOf(orgId)).toMatchObject({ period: '2026-06', totalNanoUsd: 0n });
    await spend(t, 'mem-a', '0.8', '2026-05-31T22:10:00Z'); // 00:10 on 1 June: June's (billed 1.04)
    await spend(t, 'mem-a', '5', '2026-05-31T21:50:00Z'); // 23:50 on 31 May, arriving late: May's
    expect((await check(t, 'mem-a')).body).toMatchObject({
      allowed: false,
      used_usd: 1.04,
      resets_at: '2026-07-01T00:00:00.000+02:00',
    });
    expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, '2026-06'));
  });
});

describe.each(databaseKinds)('limit check and costs filled by the OpenRouter sync on %s', (kind) => {
  const ORG_KEY = `sk-or-v1-${'b'.repeat(64)}`;
  let fake: FakeOpenRouter;
  let t: TestApp;
  let orgId: string;
  beforeAll(async () => {
    fake = await createFakeOpenRouter();
    t = await createTestApp(kind, { now: new Date().toISOString(), env: { OPENROUTER_API_BASE: fake.apiBase } });
    const org = await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/clients`)
      .send({ name: 'Pending Co', monthly_limit_usd: '0.000001', openrouter_api_key: ORG_KEY })
      .expect(201);
    orgId = org.body.id;
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'pending-u', client_org_id: orgId })
      .expect(201);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('counts a pending cost once the sync fills it', async () => {
    const charged = fake.recordGeneration({
      model: 'fake/alpha',
      apiKey: ORG_KEY,
      promptTokens: 1000,
      completionTokens: 600,
    });
    await t
      .ingest({
        events: [
          completionEvent({
            event_id: charged.id,
            generation_id: charged.id,
            user: { id: 'pending-u' },
            occurred_at: new Date().toISOString(),
            usage: { input_tokens: 1000, output_tokens: 600 },
          }),
        ],
      })
      .expect(200);
    expect((await check(t, 'pending-u')).body.allowed).toBe(true); // cost pending: 0 so far
    await t.as(ADMIN_TOKEN).post('/api/v1/usage-tracking/sync/openrouter-usage').send({ days_back: 1 }).expect(200);
    const month = new Date().toISOString().slice(0, 7);
    const res = await check(t, 'pending-u');
    expect(res.body).toMatchObject({ allowed: false, scope: 'org' });
    expect(usageInMemory(t, orgId)?.['*total*']).not.toBe('0');
    // The month in Warsaw may differ from UTC's only in the last hours of a month; the DB read uses Warsaw's.
    const warsawMonth = t.deps.limits.usageOf(orgId)?.period ?? month;
    expect(usageInMemory(t, orgId)).toEqual(await usageInDb(t, orgId, warsawMonth));
  });
});
