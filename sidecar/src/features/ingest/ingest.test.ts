import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const ingest = (t: TestApp, events: unknown[]) => t.as(INGEST_TOKEN).post('/api/v1/ingest/events').send({ events });

async function ledgerCount(t: TestApp): Promise<number> {
  const [row] = await t.db('usage_events').count({ n: '*' });
  return Number(row?.n);
}

describe.each(databaseKinds)('ingest on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z' });
  });
  afterAll(async () => t?.close());

  it('records an event once; a replay answers duplicate and changes nothing', async () => {
    const event = completionEvent({ event_id: 'gen-replay-1' });
    const first = await ingest(t, [event]).expect(200).expect('content-type', 'application/json; charset=utf-8');
    expect(first.headers['content-length']).toBe(String(Buffer.byteLength(first.text)));
    expect(first.body).toEqual({
      results: [{ event_id: 'gen-replay-1', status: 'recorded' }],
      recorded: 1,
      duplicates: 0,
    });
    const before = await t.db('usage_daily').select();
    const replay = await ingest(t, [
      { ...event, usage: { input_tokens: 999, output_tokens: 999, cost_usd: 9 } },
    ]).expect(200);
    expect(replay.body.results).toEqual([{ event_id: 'gen-replay-1', status: 'duplicate' }]);
    expect(await t.db('usage_daily').select()).toEqual(before);
    expect(await t.db('usage_events').where({ event_id: 'gen-replay-1' }).select('input_tokens')).toEqual([
      { input_tokens: kind === 'postgres' ? '100' : 100 },
    ]);
  });

  it('answers a repeated id inside one batch as recorded then duplicate', async () => {
    const event = completionEvent({ event_id: 'gen-twice-in-batch' });
    const res = await ingest(t, [event, event]).expect(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['recorded', 'duplicate']);
    expect(await t.db('usage_events').where({ event_id: 'gen-twice-in-batch' }).count({ n: '*' })).toEqual([
      { n: kind === 'postgres' ? '1' : 1 },
    ]);
  });

  it('puts an unknown user in the default org, creates it once and learns the mapping', async () => {
    await ingest(t, [completionEvent({ user: { id: 'new-user-7', email: 'n7@x.example', name: 'N7' } })]).expect(200);
    const mapping = await t.db('user_client_mappings').where({ user_id: 'new-user-7' }).first();
    expect(mapping).toMatchObject({
      client_org_id: 'org_default_default',
      source: 'learned',
      user_email: 'n7@x.example',
    });
    const defaults = await t.db('client_organizations').where({ is_default: true });
    expect(defaults).toHaveLength(1);
  });

  it('stores money exactly: raw from the provider, billed = raw × markup, rounded half away from zero', async () => {
    // 0.000000001 USD × 1.3 = 1.3 nano → 1; 0.000000005 × 1.3 = 6.5 nano → 7.
    await ingest(t, [
      completionEvent({ event_id: 'gen-round-1', usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1e-9 } }),
      completionEvent({
        event_id: 'gen-round-2',
        usage: { input_tokens: 1, output_tokens: 1, cost_usd: '0.000000005' },
      }),
      completionEvent({ event_id: 'gen-round-3', usage: { input_tokens: 1, output_tokens: 1, cost_usd: 0.1 } }),
    ]).expect(200);
    const rows = await t
      .db('usage_events')
      .whereIn('event_id', ['gen-round-1', 'gen-round-2', 'gen-round-3'])
      .orderBy('event_id');
    expect(
      rows.map((r) => [String(r.raw_cost_nano_usd), String(r.billed_cost_nano_usd), String(r.markup_rate_ppm)]),
    ).toEqual([
      ['1', '1', '1300000'],
      ['5', '7', '1300000'],
      ['100000000', '130000000', '1300000'],
    ]);
  });

  it('snapshots the markup in force: changing the org markup later does not change past events', async () => {
    const org = await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/clients')
      .send({ name: 'Snap Co', markup_rate: '1.5' })
      .expect(201);
    await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/user-mappings')
      .send({ user_id: 'snap-user', client_org_id: org.body.id })
      .expect(201);
    await ingest(t, [
      completionEvent({
        event_id: 'gen-snap-1',
        user: { id: 'snap-user' },
        usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1 },
      }),
    ]).expect(200);
    await t
      .as(ADMIN_TOKEN)
      .patch(`/api/v1/client-organizations/clients/${org.body.id}`)
      .send({ markup_rate: 2 })
      .expect(200);
    await ingest(t, [
      completionEvent({
        event_id: 'gen-snap-2',
        user: { id: 'snap-user' },
        usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1 },
      }),
    ]).expect(200);
    const rows = await t.db('usage_events').whereIn('event_id', ['gen-snap-1', 'gen-snap-2']).orderBy('event_id');
    expect(rows.map((r) => String(r.billed_cost_nano_usd))).toEqual(['1500000000', '2000000000']);
    const [daily] = await t
      .db('usage_daily')
      .where({ client_org_id: org.body.id })
      .select('billed_cost_nano_usd', 'requests');
    expect(String(daily?.billed_cost_nano_usd)).toBe('3500000000');
    expect(Number(daily?.requests)).toBe(2);
  });

  it('marks a completion without cost as pending, counted in requests but not cost', async () => {
    await ingest(t, [
      completionEvent({
        event_id: 'gen-pending',
        user: { id: 'pending-user' },
        usage: { input_tokens: 5, output_tokens: 6 },
      }),
    ]).expect(200);
    const row = await t.db('usage_events').where({ event_id: 'gen-pending' }).first();
    expect(row).toMatchObject({ cost_status: 'pending' });
    expect(String(row.raw_cost_nano_usd)).toBe('0');
    const daily = await t.db('usage_daily').where({ user_id: 'pending-user' }).first();
    expect([Number(daily.requests), Number(daily.pending_cost_requests)]).toEqual([1, 1]);
  });

  it('bills BYOK as the OpenRouter fee plus the upstream cost', async () => {
    await ingest(t, [
      completionEvent({
        event_id: 'gen-byok',
        usage: { input_tokens: 1, output_tokens: 1, cost_usd: 0.001, is_byok: true, upstream_cost_usd: 0.02 },
      }),
    ]).expect(200);
    const row = await t.db('usage_events').where({ event_id: 'gen-byok' }).first();
    expect(String(row.raw_cost_nano_usd)).toBe('21000000');
  });

  it('assigns the local Warsaw day: 23:30 UTC on 31 March is 1 April in Warsaw (CEST)', async () => {
    await ingest(t, [completionEvent({ event_id: 'gen-tz', occurred_at: '2026-03-31T23:30:00Z' })]).expect(200);
    expect((await t.db('usage_events').where({ event_id: 'gen-tz' }).first()).usage_day).toBe('2026-04-01');
  });

  it('stores generation_started apart from usage, once per generation id', async () => {
    const start = {
      event_id: 'start:gen-abort-1',
      kind: 'generation_started',
      occurred_at: '2026-03-10T10:00:00Z',
      user: { id: 'user-1' },
      model: 'openai/gpt-4o-mini',
      channel: 'ui',
      generation_id: 'gen-abort-1',
    };
    const before = await ledgerCount(t);
    expect((await ingest(t, [start]).expect(200)).body.results[0].status).toBe('recorded');
    expect((await ingest(t, [start]).expect(200)).body.results[0].status).toBe('duplicate');
    expect(await ledgerCount(t)).toBe(before);
    expect(await t.db('generation_starts').where({ generation_id: 'gen-abort-1' })).toHaveLength(1);
  });

  it('rejects bad input with a 400 naming the field, and stores nothing from that batch', async () => {
    const before = await ledgerCount(t);
    const cases: [unknown, string][] = [
      [{ events: [] }, 'events: must hold at least 1 event'],
      [{ events: Array.from({ length: 501 }, () => completionEvent()) }, 'events: must hold at most 500 events'],
      [
        { events: [completionEvent(), completionEvent({ usage: { input_tokens: 1.5, output_tokens: 0 } })] },
        'events[1].usage.input_tokens',
      ],
      [{ events: [completionEvent({ occurred_at: 'yesterday' })] }, 'events[0].occurred_at'],
      [{ events: [completionEvent({ channel: 'email' })] }, 'events[0].channel'],
      [
        { events: [completionEvent({ usage: { input_tokens: 1, output_tokens: 1, cost_usd: -1 } })] },
        'events[0].usage.cost_usd',
      ],
      [{ events: [completionEvent({ user: undefined })] }, 'events[0].user'],
      [{ events: [{ ...completionEvent(), kind: 'generation_started' }] }, 'events[0].generation_id'],
      // PostgreSQL cannot store NUL in text, and SQLite scripts cannot carry it.
      [{ events: [completionEvent({ model: 'gpt\u0000x' })] }, 'events[0].model: must not contain a NUL character'],
      [{ events: [completionEvent({ user: { id: 'u\u0000' } })] }, 'events[0].user.id'],
      [{ events: [completionEvent(), completionEvent({ chat_id: 'c\u0000' })] }, 'events[1].chat_id: must not'],
      [{ events: [completionEvent({ user: { id: 'u', name: 'N\u0000' } })] }, 'events[0].user.name: must not'],
      [{ events: [completionEvent({ model: '' })] }, 'events[0].model: must not be empty'],
      [{ events: [completionEvent({ event_id: 'e'.repeat(257) })] }, 'events[0].event_id: must be at most 256'],
      [
        { events: [completionEvent({ user: { id: 'u', email: `${'x'.repeat(320)}@y` } })] },
        'events[0].user.email: must be at most 320 characters',
      ],
      [
        { events: [completionEvent({ usage: { input_tokens: 1, output_tokens: -1 } })] },
        'events[0].usage.output_tokens: must not be negative',
      ],
      [
        { events: [completionEvent({ usage: { input_tokens: 1, output_tokens: 1, cached_tokens: 2e9 } })] },
        'events[0].usage.cached_tokens: must be at most 1000000000',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await t
        .as(INGEST_TOKEN)
        .post('/api/v1/ingest/events')
        .send(body as object)
        .expect(400);
      expect(res.body.error.message).toContain(field);
    }
    const res = await t
      .as(INGEST_TOKEN)
      .post('/api/v1/ingest/events')
      .set('content-type', 'application/json')
      .send('{"events": [')
      .expect(400);
    expect(res.body.error.code).toBe('invalid_json');
    expect(await ledgerCount(t)).toBe(before);
  });

  it('ignores unknown fields', async () => {
    const res = await ingest(t, [
      completionEvent({
        event_id: 'gen-extra',
        surprise: { nested: true },
        usage: { input_tokens: 1, output_tokens: 2, cost_usd: 0, new_field: 1 },
      }),
    ]);
    expect(res.status).toBe(200);
  });

  it('accepts only the ingest token', async () => {
    await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/ingest/events')
      .send({ events: [completionEvent()] })
      .expect(403);
    await t
      .as('owui-admin-token')
      .post('/api/v1/ingest/events')
      .send({ events: [completionEvent()] })
      .expect(403);
    await t
      .as('wrong-token')
      .post('/api/v1/ingest/events')
      .send({ events: [completionEvent()] })
      .expect(401);
  });

  it('refuses what is not a JSON body it can read, naming why, and stores nothing', async () => {
    const before = await ledgerCount(t);
    const body = JSON.stringify({ events: [completionEvent()] });
    const post = () => t.as(INGEST_TOKEN).post('/api/v1/ingest/events');
    const refusals: [Awaited<ReturnType<typeof post>>, number, string][] = [
      [await post().set('content-type', 'text/plain').send(body), 415, 'unsupported_media_type'],
      [await post().set('content-type', 'application/json; charset=latin1').send(body), 415, 'unsupported_charset'],
      [
        await post().set('content-type', 'application/json').set('content-encoding', 'gzip').send(body),
        415,
        'unsupported_encoding',
      ],
      [
        await post()
          .set('content-type', 'application/json')
          .send(`{"events":[],"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`),
        413,
        'payload_too_large',
      ],
    ];
    for (const [res, status, code] of refusals) {
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    }
    expect(await ledgerCount(t)).toBe(before);
  });

  it('checks the token before it reads the body', async () => {
    const res = await t
      .as('wrong-token')
      .post('/api/v1/ingest/events')
      .set('content-type', 'application/json')
      .send('{"events": [')
      .expect(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('answers with the request id, and serves the path as Express spells it too', async () => {
    const given = await t
      .as(INGEST_TOKEN)
      .post('/api/v1/ingest/events')
      .set('x-request-id', 'filter-req-1')
      .send({ events: [completionEvent({ event_id: 'gen-with-request-id' })] })
      .expect(200);
    expect(given.headers['x-request-id']).toBe('filter-req-1');
    for (const [path, id] of [
      ['/api/v1/ingest/events/', 'gen-trailing-slash'],
      ['/api/v1/ingest/events?source=spool', 'gen-query-string'],
    ]) {
      const res = await t
        .as(INGEST_TOKEN)
        .post(path!)
        .send({ events: [completionEvent({ event_id: id })] })
        .expect(200);
      expect(res.body.results).toEqual([{ event_id: id, status: 'recorded' }]);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    await t.as(INGEST_TOKEN).get('/api/v1/ingest/events').expect(404);
  });

  it('prices with the mapping as stored when written, also after it changed behind the ledger', async () => {
    // On SQLite the ledger writes a known user's usage in one script, with the mapping it
    // remembers; changes made directly in the database (another process) must still be honoured.
    const create = (name: string, markup: string) =>
      t.as(ADMIN_TOKEN).post('/api/v1/client-organizations/clients').send({ name, markup_rate: markup }).expect(201);
    const [first, second] = [(await create('Behind A', '1.5')).body.id, (await create('Behind B', '2')).body.id];
    await t
      .as(ADMIN_TOKEN)
      .post('/api/v1/client-organizations/user-mappings')
      .send({ user_id: 'behind-user', client_org_id: first })
      .expect(201);
    const send = (eventId: string, user: Record<string, unknown> = { id: 'behind-user' }) =>
      ingest(t, [
        completionEvent({ event_id: eventId, user, usage: { input_tokens: 1, output_tokens: 1, cost_usd: 1 } }),
      ]);
    await send('gen-behind-1').expect(200);
    await send('gen-behind-2').expect(200);

    await t.db('client_organizations').where({ id: first }).update({ markup_rate_ppm: 1_700_000 });
    await send('gen-behind-3').expect(200);
    await t.db('user_client_mappings').where({ user_id: 'behind-user' }).update({ client_org_id: second });
    await send('gen-behind-4').expect(200);
    // A quote in text the script carries (the remembered email) is written as text, not SQL.
    await send('gen-behind-5', { id: 'behind-user', email: "o'renamed@x.example" }).expect(200);
    await send('gen-behind-6', { id: 'behind-user', email: "o'renamed@x.example" }).expect(200);
    // Recorded by someone else since: the replay is a duplicate and the rollup is not touched.
    const recorded = await t.db('usage_events').where({ event_id: 'gen-behind-6' }).first();
    await t.db('usage_events').insert({ ...recorded, id: undefined, event_id: 'gen-behind-7' });
    const replay = await send('gen-behind-7').expect(200);
    expect(replay.body.results).toEqual([{ event_id: 'gen-behind-7', status: 'duplicate' }]);

    const rows = await t.db('usage_events').where('event_id', 'like', 'gen-behind-%').orderBy('event_id');
    expect(rows.map((r) => [r.event_id, r.client_org_id, String(r.billed_cost_nano_usd)])).toEqual([
      ['gen-behind-1', first, '1500000000'],
      ['gen-behind-2', first, '1500000000'],
      ['gen-behind-3', first, '1700000000'],
      ['gen-behind-4', second, '2000000000'],
      ['gen-behind-5', second, '2000000000'],
      ['gen-behind-6', second, '2000000000'],
      ['gen-behind-7', second, '2000000000'],
    ]);
    const daily = await t
      .db('usage_daily')
      .where({ user_id: 'behind-user' })
      .orderBy('client_org_id')
      .select('client_org_id', 'requests', 'billed_cost_nano_usd');
    expect(daily.map((r) => [r.client_org_id, Number(r.requests), String(r.billed_cost_nano_usd)])).toEqual(
      [
        [first, 3, '4700000000'],
        [second, 3, '6000000000'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const mapping = await t.db('user_client_mappings').where({ user_id: 'behind-user' }).first();
    expect(mapping?.user_email).toBe("o'renamed@x.example");
  });

  it('keeps the rollup equal to the ledger under many concurrent requests with overlapping ids', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `gen-concurrent-${i % 40}`);
    const responses = await Promise.all(
      ids.map((id, i) =>
        ingest(t, [
          completionEvent({
            event_id: id,
            user: { id: `conc-${i % 3}` },
            usage: { input_tokens: 10, output_tokens: 1, cost_usd: '0.000001' },
          }),
        ]),
      ),
    );
    const statuses = responses.flatMap((r) => r.body.results.map((x: { status: string }) => x.status));
    expect(statuses.filter((s) => s === 'recorded')).toHaveLength(40);
    const [ledger] = await t
      .db('usage_events')
      .where('event_id', 'like', 'gen-concurrent-%')
      .sum({ tokens: 'input_tokens' })
      .count({ n: '*' });
    const [daily] = await t
      .db('usage_daily')
      .where('user_id', 'like', 'conc-%')
      .sum({ tokens: 'input_tokens', requests: 'requests' });
    expect(Number(ledger?.n)).toBe(40);
    expect(Number(daily?.tokens)).toBe(400);
    expect(Number(daily?.requests)).toBe(40);
  });
});
