import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeNbp, type FakeNbp } from '../../../../test/fakes/nbp/fake-nbp.js';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

/**
 * PLN in usage responses and the billing statement, with figures worked out by hand (below, in
 * the comments) over April 2026: Easter Sunday 5 and Monday 6 April are holidays, 4–5 a weekend,
 * so costs from Saturday 4 to Tuesday 7 April all convert at Friday 3 April's table A.
 */

const BASE = '/api/v1/client-organizations';
const USAGE = `${BASE}/usage`;
const OWUI_ADMIN = 'owui-admin-token';
const NOW = '2026-04-09T10:00:00Z'; // Thursday 12:00 in Warsaw: today's table C (8:00) is out

// Table A mid rates of the business days the statement needs; table C ask 4.0000 for display.
const TABLE_A = {
  '2026-03-31': '3.7001',
  '2026-04-01': '3.7500',
  '2026-04-02': '3.9876',
  '2026-04-03': '3.9512',
  '2026-04-07': '4.0123',
  '2026-04-08': '4.1000',
};
const TABLE_C = { '2026-04-09': { bid: '3.9209', ask: '4.0000' } };

const P_NAME = 'Żółć Sp. z o.o.';
const Q_NAME = 'Beta; "Gamma" S.A.';

type Cell = string;

/** RFC 4180 with a chosen separator; records end in CRLF. */
function parseCsv(text: string, separator: ',' | ';'): Cell[][] {
  const records: Cell[][] = [];
  let record: Cell[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field === '') {
      i += 1;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"' && text[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (text[i] === '"') {
          i += 1;
          break;
        } else field += text[i++];
      }
      if (i < text.length && text[i] !== separator && text[i] !== '\r') throw new Error(`text after a quote at ${i}`);
    } else if (c === separator) {
      record.push(field);
      field = '';
      i += 1;
    } else if (c === '\r') {
      if (text[i + 1] !== '\n') throw new Error(`CR without LF at ${i}`);
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else if (c === '\n') {
      throw new Error(`bare LF at ${i}`);
    } else if (c === '"') {
      throw new Error(`quote inside an unquoted field at ${i}`);
    } else {
      field += c;
      i += 1;
    }
  }
  if (field !== '' || record.length > 0) throw new Error('last record does not end in CRLF');
  return records;
}

/** Records as objects keyed by the header. */
function csvObjects(text: string, separator: ',' | ';'): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text, separator);
  for (const row of rows) expect(row).toHaveLength(header!.length);
  return rows.map((row) => Object.fromEntries(header!.map((name, i) => [name, row[i]!])));
}

/** "12,34" or "-2.47" → grosz, read as text. */
const grosz = (text: string) => {
  const [whole, fraction] = text.replace(',', '.').split('.');
  expect(fraction).toHaveLength(2);
  const value = BigInt(whole!.replace('-', '')) * 100n + BigInt(fraction!);
  return whole!.startsWith('-') ? -value : value;
};

type DayLine = {
  date: string;
  cost_nano_usd: string;
  cost_pln: number | null;
  cost_pln_grosz: string | null;
  rate: { usd_pln: number; table_no: string; effective_date: string; source: string } | null;
  pln_unavailable_reason: string | null;
};

describe.each(databaseKinds)('PLN and the billing statement on %s', (kind) => {
  let t: TestApp;
  let nbp: FakeNbp;
  let orgP = '';
  let orgQ = '';
  let orgOther = '';
  const tableA = (day: string) => nbp.table('A', day)!.no;

  beforeAll(async () => {
    let clock = () => new Date(NOW);
    nbp = await createFakeNbp({ now: () => clock(), rates: { A: TABLE_A, C: TABLE_C } });
    t = await createTestApp(kind, { now: NOW, env: { NBP_API_BASE: nbp.url } });
    clock = t.deps.now;
    const op = t.as(ADMIN_TOKEN);
    const create = async (body: Record<string, unknown>) =>
      (await op.post(`${BASE}/clients`).send(body).expect(201)).body.id as string;
    orgP = await create({ name: P_NAME, markup_rate: '1.25', monthly_limit_usd: 50 });
    orgQ = await create({ name: Q_NAME, markup_rate: '1.3' });
    orgOther = await create({ name: 'Other tenant', instance_id: 'other', markup_rate: '1.1' });
    await create({ name: '=1+1 Formula Sp. j.' }); // no usage: a total line only
    await op.post(`${BASE}/user-mappings`).send({ user_id: 'user-1', client_org_id: orgP }).expect(201);
    await op.post(`${BASE}/user-mappings`).send({ user_id: 'user-2', client_org_id: orgQ }).expect(201);
    const user2 = { id: 'user-2', email: 'user2@client.example', name: 'Otto Other', role: 'user' };
    const event = (id: string, occurredAt: string, cost: string, user?: typeof user2) =>
      completionEvent({
        event_id: id,
        occurred_at: occurredAt,
        usage: { input_tokens: 1000, output_tokens: 100, cost_usd: cost },
        ...(user ? { user } : {}),
      });
    const events = [
      event('gen-p1', '2026-03-31T22:30:00Z', '1.000000001'), // 1 April 00:30 CEST
      event('gen-p2', '2026-04-02T10:00:00Z', '2'),
      event('gen-p3', '2026-04-03T10:00:00Z', '0.333333333'), // Good Friday: a business day
      event('gen-p4', '2026-04-04T10:00:00Z', '0.8'), // Saturday
      event('gen-p5', '2026-04-05T22:30:00Z', '4'), // Easter Monday 00:30 CEST
      event('gen-p6', '2026-04-07T08:00:00Z', '0.1'),
      event('gen-p7', '2026-04-07T15:00:00Z', '0.3'),
      event('gen-p8', '2026-04-08T10:00:00Z', '10'),
      event('gen-p9', '2026-04-09T08:00:00Z', '0.02'), // today
      event('gen-p0', '2026-03-31T21:30:00Z', '3'), // 31 March 23:30 CEST: not April
      event('gen-q1', '2026-04-06T10:00:00Z', '1.5', user2), // Easter Monday
      event('gen-q2', '2026-04-03T10:00:00Z', '0.77', user2),
    ];
    await t.ingest({ events }).expect(200);
    const manual = (body: Record<string, unknown>) =>
      op
        .post('/api/v1/usage-tracking/usage/manual-record')
        .send({ model: 'openai/gpt-4o-mini', ...body })
        .expect(201);
    await manual({ client_org_id: orgP, cost: '-0.5', reason: 'refund', occurred_at: '2026-04-05T10:00:00Z' }); // Easter Sunday
    await manual({ client_org_id: orgOther, cost: '1', reason: 'other', occurred_at: '2026-04-02T10:00:00Z' });
  });
  afterAll(async () => {
    await t?.close();
    await nbp?.close();
  });

  // Org P (markup 1.25), billed USD per day and its PLN at table A of the business day before:
  //   04-01  1.000000001 × 1.25 = 1.25000000125 → 1.250000001  × 3.7001 (03-31) = 4.6251250037 →  4.63
  //   04-02  2 × 1.25           = 2.5                          × 3.7500 (04-01) = 9.375        →  9.38
  //   04-03  0.333333333 × 1.25 = 0.41666666625 → 0.416666666  × 3.9876 (04-02) = 1.6614999973 →  1.66
  //   04-04  0.8 × 1.25         = 1                            × 3.9512 (04-03) = 3.9512       →  3.95
  //   04-05  -0.5 × 1.25        = -0.625                       × 3.9512 (04-03) = -2.4695      → -2.47
  //   04-06  4 × 1.25           = 5                            × 3.9512 (04-03) = 19.756       → 19.76
  //   04-07  (0.1 + 0.3) × 1.25 = 0.5                          × 3.9512 (04-03) = 1.9756       →  1.98
  //          (per event it would be 0.49 + 1.48 = 1.97: the day is converted once)
  //   04-08  10 × 1.25          = 12.5                         × 4.0123 (04-07) = 50.15375     → 50.15
  //   04-09  0.02 × 1.25        = 0.025                        × 4.1000 (04-08) = 0.1025       →  0.10
  //   month: 22.566666667 USD; statement 89.14 PLN; at the display rate 4.0000: 90.266666668 → 90.27
  // Org Q (markup 1.3):
  //   04-03  0.77 × 1.3 = 1.001 × 3.9876 (04-02) = 3.9915876 → 3.99
  //   04-06  1.5 × 1.3  = 1.95  × 3.9512 (04-03) = 7.70484   → 7.70
  //   month: 2.951 USD; statement 11.69 PLN; display 11.804 → 11.80
  // Other tenant (markup 1.1): 04-02  1 × 1.1 = 1.1 × 3.7500 (04-01) = 4.125 → 4.13; display 4.40
  const P_DAYS: [string, string, string, string, string][] = [
    // date, billed nano-USD, PLN, rate, rate's day
    ['2026-04-01', '1250000001', '4.63', '3.7001', '2026-03-31'],
    ['2026-04-02', '2500000000', '9.38', '3.7500', '2026-04-01'],
    ['2026-04-03', '416666666', '1.66', '3.9876', '2026-04-02'],
    ['2026-04-04', '1000000000', '3.95', '3.9512', '2026-04-03'],
    ['2026-04-05', '-625000000', '-2.47', '3.9512', '2026-04-03'],
    ['2026-04-06', '5000000000', '19.76', '3.9512', '2026-04-03'],
    ['2026-04-07', '500000000', '1.98', '3.9512', '2026-04-03'],
    ['2026-04-08', '12500000000', '50.15', '4.0123', '2026-04-07'],
    ['2026-04-09', '25000000', '0.10', '4.1000', '2026-04-08'],
  ];

  it('billing statement: each day at table A mid of the business day before, over Easter, to the grosz', async () => {
    const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=2026-04`).expect(200);
    const p = res.body.clients.find((c: { client_org_id: string }) => c.client_org_id === orgP);
    expect(p.days.map((d: DayLine) => [d.date, d.cost_nano_usd, d.cost_pln, d.rate])).toEqual(
      P_DAYS.map(([date, nano, pln, rate, rateDay]) => [
        date,
        nano,
        Number(pln),
        { usd_pln: Number(rate), table_no: tableA(rateDay), effective_date: rateDay, source: 'NBP Table A' },
      ]),
    );
    expect(p.days.every((d: DayLine) => d.pln_unavailable_reason === null)).toBe(true);
    // Saturday, Easter Sunday, Easter Monday and Tuesday all use Friday 3 April's table.
    expect(tableA('2026-04-03')).toMatch(/\/A\/NBP\/2026$/);
    expect(p).toMatchObject({
      markup_rate: 1.25,
      cost_nano_usd: '22566666667',
      raw_cost_nano_usd: '18053333334',
      profit_nano_usd: '4513333333',
      monthly_limit_usd: 50,
      limit_used_pct: 45.13,
      statement_pln: { cost_pln: 89.14, cost_pln_grosz: '8914', source: 'NBP Table A', complete: true },
      // Display figure: the month's billed USD at table C ask, labelled as such.
      cost_pln: 90.27,
      cost_pln_grosz: '9027',
      exchange_rate: 4,
      exchange_rate_date: '2026-04-09',
      exchange_rate_source: 'NBP Table C',
    });
    // The org's statement total is the exact sum of its day lines.
    const daySum = p.days.reduce((sum: bigint, d: DayLine) => sum + BigInt(d.cost_pln_grosz!), 0n);
    expect(daySum).toBe(8914n);

    const q = res.body.clients.find((c: { client_org_id: string }) => c.client_org_id === orgQ);
    expect(q.days.map((d: DayLine) => [d.date, d.cost_pln_grosz, d.rate?.effective_date])).toEqual([
      ['2026-04-03', '399', '2026-04-02'],
      ['2026-04-06', '770', '2026-04-03'],
    ]);
    expect(q.statement_pln.cost_pln_grosz).toBe('1169');
    expect(q.cost_pln_grosz).toBe('1180');
    const other = res.body.clients.find((c: { client_org_id: string }) => c.client_org_id === orgOther);
    expect(other.statement_pln.cost_pln_grosz).toBe('413');
    expect(res.body.totals).toMatchObject({
      cost_nano_usd: '26617666667', // 22.566666667 + 2.951 + 1.1
      statement_pln: { cost_pln: 104.96, cost_pln_grosz: '10496', complete: true, days_without_rate: [] },
      cost_pln_grosz: '10647', // 26.617666667 × 4 = 106.470666668
    });
    expect(res.body.exchange_rate_info).toEqual({
      pln_available: true,
      usd_pln: 4,
      effective_date: '2026-04-09',
      table_no: nbp.table('C', '2026-04-09')!.no,
      source: 'NBP Table C',
      stale: false,
    });
  });

  it('billing statement for an Open WebUI admin: its orgs, no raw cost, markup or profit anywhere', async () => {
    const res = await t.as(OWUI_ADMIN).get(`${USAGE}/billing?month=2026-04`).expect(200);
    const ids = res.body.clients.map((c: { client_org_id: string }) => c.client_org_id);
    expect(ids).not.toContain(orgOther);
    expect(res.body.totals.statement_pln.cost_pln_grosz).toBe('10083'); // 89.14 + 11.69
    const hidden = ['raw_cost', 'raw_cost_nano_usd', 'profit', 'profit_nano_usd', 'markup_rate'];
    for (const line of [...res.body.clients, res.body.totals]) {
      for (const key of hidden) expect(line).not.toHaveProperty(key);
      for (const day of line.days ?? []) for (const key of hidden) expect(day).not.toHaveProperty(key);
    }
    const p = res.body.clients.find((c: { client_org_id: string }) => c.client_org_id === orgP);
    expect(p.days).toHaveLength(9);
    expect(p.statement_pln.cost_pln_grosz).toBe('8914');
  });

  it('billing CSV (RFC 4180): one line per org per day with the rate, org totals = sum of day lines', async () => {
    const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=2026-04&format=csv`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers['content-disposition']).toContain('mai-usage_billing_2026-04.csv');
    expect(res.text.charCodeAt(0)).not.toBe(0xfeff);
    const rows = csvObjects(res.text, ',');
    const pDays = rows.filter((r) => r.line === 'day' && r.client_org_id === orgP);
    expect(
      pDays.map((r) => [r.date, r.cost_usd, r.cost_pln, r.rate_usd_pln, r.rate_table_no, r.rate_effective_date]),
    ).toEqual(
      P_DAYS.map(([date, nano, pln, rate, rateDay]) => [
        date,
        (Number(nano) / 1e9).toString(),
        pln,
        rate,
        tableA(rateDay),
        rateDay,
      ]),
    );
    expect(pDays.every((r) => r.rate_source === 'NBP Table A' && r.client_name === P_NAME)).toBe(true);
    const pTotal = rows.find((r) => r.line === 'client_total' && r.client_org_id === orgP)!;
    expect(pTotal).toMatchObject({
      date: '2026-04',
      cost_usd: '22.566666667',
      raw_cost_usd: '18.053333334',
      markup_rate: '1.25',
      profit_usd: '4.513333333',
      cost_pln: '89.14',
      monthly_limit_usd: '50',
      limit_used_pct: '45.13',
      requests: '9',
      tokens: String(9 * 1100),
    });
    expect(pDays.reduce((sum, r) => sum + grosz(r.cost_pln!), 0n)).toBe(grosz(pTotal.cost_pln!));
    // Quoting survives a comma-free name with quotes and a semicolon.
    expect(rows.find((r) => r.client_org_id === orgQ && r.line === 'client_total')).toMatchObject({
      client_name: Q_NAME,
      cost_pln: '11.69',
    });
    expect(rows.at(-1)).toMatchObject({ line: 'total', cost_pln: '104.96', cost_usd: '26.617666667' });
    // A name that looks like a formula stays text in a spreadsheet; an org without usage has zeros.
    expect(rows.find((r) => r.client_name === "'=1+1 Formula Sp. j.")).toMatchObject({
      line: 'client_total',
      requests: '0',
      cost_usd: '0',
      cost_pln: '0.00',
    });

    const admin = csvObjects(
      (await t.as(OWUI_ADMIN).get(`${USAGE}/billing?month=2026-04&format=csv`).expect(200)).text,
      ',',
    );
    for (const key of ['raw_cost_usd', 'markup_rate', 'profit_usd']) expect(admin[0]).not.toHaveProperty(key);
    expect(admin.some((r) => r.client_org_id === orgOther)).toBe(false);
    expect(admin.at(-1)).toMatchObject({ line: 'total', cost_pln: '100.83' });
  });

  it('billing CSV for Polish Excel: BOM, semicolons, decimal commas, CRLF', async () => {
    const res = await t
      .as(ADMIN_TOKEN)
      .get(`${USAGE}/billing?month=2026-04&format=csv&dialect=pl`)
      .buffer(true)
      .parse((response, done) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const bytes = res.body as Buffer;
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text.includes('\r\n') && !/[^\r]\n/.test(text)).toBe(true);
    const rows = csvObjects(text.slice(1), ';');
    const pDays = rows.filter((r) => r.line === 'day' && r.client_org_id === orgP);
    expect(pDays.map((r) => [r.date, r.cost_pln, r.rate_usd_pln])).toEqual(
      P_DAYS.map(([date, , pln, rate]) => [date, pln.replace('.', ','), rate.replace('.', ',')]),
    );
    expect(pDays[0]).toMatchObject({ client_name: P_NAME, cost_usd: '1,250000001' });
    const pTotal = rows.find((r) => r.line === 'client_total' && r.client_org_id === orgP)!;
    expect(pTotal).toMatchObject({ cost_pln: '89,14', markup_rate: '1,25', limit_used_pct: '45,13' });
    expect(pDays.reduce((sum, r) => sum + grosz(r.cost_pln!), 0n)).toBe(grosz(pTotal.cost_pln!));
    expect(rows.find((r) => r.client_org_id === orgQ)!.client_name).toBe(Q_NAME);
    expect(text).toContain('"Beta; ""Gamma"" S.A."');
  });

  it('every usage response carries display PLN at table C ask (4.0000) and exchange_rate_info', async () => {
    const info = { pln_available: true, usd_pln: 4, effective_date: '2026-04-09', source: 'NBP Table C' };
    const label = { exchange_rate: 4, exchange_rate_date: '2026-04-09', exchange_rate_source: 'NBP Table C' };
    const summary = await t.as(ADMIN_TOKEN).get(`${USAGE}/summary?client_id=${orgP}`).expect(200);
    expect(summary.body.stats.exchange_rate_info).toMatchObject(info);
    expect(summary.body.stats.today).toMatchObject({ cost: 0.025, cost_pln: 0.1, cost_pln_grosz: '10', ...label });
    // April so far: 22.566666667 USD × 4 = 90.266666668 → 90.27; average over 9 days: 2.507407407 × 4 → 10.03
    expect(summary.body.stats.this_month).toMatchObject({
      cost_pln: 90.27,
      cost_pln_grosz: '9027',
      daily_average_cost_nano_usd: '2507407407',
      daily_average_cost_pln: 10.03,
      daily_average_cost_pln_grosz: '1003',
      ...label,
    });
    const history = summary.body.stats.daily_history as { date: string; cost_pln_grosz: string }[];
    // 4 April: 1 USD → 4.00; 5 April: -0.625 → -2.50
    expect(history.find((d) => d.date === '2026-04-04')).toMatchObject({ cost_pln_grosz: '400', ...label });
    expect(history.find((d) => d.date === '2026-04-05')).toMatchObject({ cost_pln_grosz: '-250' });
    expect(history.find((d) => d.date === '2026-03-20')).toMatchObject({ cost_pln_grosz: '0', ...label });

    const mine = await t.as('owui-user-token').get(`${USAGE}/my-organization`).expect(200);
    expect(mine.body.stats.exchange_rate_info).toMatchObject(info);
    const mineToday = await t.as('owui-user-token').get(`${USAGE}/my-organization/today`).expect(200);
    expect(mineToday.body.exchange_rate_info).toMatchObject(info);
    expect(mineToday.body.today).toMatchObject({ cost_pln_grosz: '10', ...label });

    const today = await t.as(ADMIN_TOKEN).get(`${USAGE}/today`).expect(200);
    expect(today.body.exchange_rate_info).toMatchObject(info);
    expect(today.body.totals).toMatchObject({ cost_pln_grosz: '10', ...label });

    // Q in April: by user 1.95 + 1.001 = 2.951 × 4 = 11.804 → 11.80
    const byUser = await t.as(OWUI_ADMIN).get(`${USAGE}/by-user/${orgQ}?month=2026-04`).expect(200);
    expect(byUser.body.exchange_rate_info).toMatchObject(info);
    expect(byUser.body.users[0]).toMatchObject({ user_id: 'user-2', cost_pln: 11.8, cost_pln_grosz: '1180', ...label });
    const byModel = await t.as(OWUI_ADMIN).get(`${USAGE}/by-model/${orgQ}?month=2026-04`).expect(200);
    expect(byModel.body.totals).toMatchObject({ cost_pln_grosz: '1180', ...label });
    expect(byModel.body.exchange_rate_info).toMatchObject(info);

    const realTime = await t.as('owui-user-token').get(`/api/v1/usage-tracking/usage/real-time/${orgP}`).expect(200);
    expect(realTime.body).toMatchObject({ cost: 0.025, cost_pln: 0.1, cost_pln_grosz: '10', ...label });
    expect(realTime.body.exchange_rate_info).toMatchObject(info);

    const exported = JSON.parse(
      (await t.as(OWUI_ADMIN).get(`${USAGE}/export?format=json&client_id=${orgQ}&month=2026-04`).expect(200)).text,
    ) as { totals: Record<string, unknown>; exchange_rate_info: Record<string, unknown> };
    expect(exported.totals).toMatchObject({ cost_pln_grosz: '1180', ...label });
    expect(exported.exchange_rate_info).toMatchObject(info);
  });

  it('rejects an unknown format or dialect with 400 naming the field', async () => {
    for (const [query, field] of [
      ['format=xml', 'format'],
      ['format=csv&dialect=de', 'dialect'],
    ]) {
      const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=2026-04&${query}`).expect(400);
      expect(res.body.error.message).toMatch(new RegExp(`^${field}\\b`));
    }
  });
});

describe.each(databaseKinds)('PLN with NBP down on %s', (kind) => {
  let t: TestApp;
  let nbp: FakeNbp;
  let orgId = '';
  const DAY = '2026-04-07';

  beforeAll(async () => {
    let clock = () => new Date(NOW);
    nbp = await createFakeNbp({ now: () => clock() });
    nbp.behavior.downWith = 503;
    t = await createTestApp(kind, { now: NOW, env: { NBP_API_BASE: nbp.url, NBP_API_TIMEOUT: '1' } });
    clock = t.deps.now;
    orgId = (await t.as(ADMIN_TOKEN).post(`${BASE}/clients`).send({ name: 'Offline' }).expect(201)).body.id;
    await t.as(ADMIN_TOKEN).post(`${BASE}/user-mappings`).send({ user_id: 'user-1', client_org_id: orgId }).expect(201);
    await t
      .ingest({ events: [completionEvent({ event_id: 'gen-off-1', occurred_at: `${DAY}T10:00:00Z` })] })
      .expect(200);
  });
  afterAll(async () => {
    await t?.close();
    await nbp?.close();
  });

  it('answers 200 in USD only, with pln_available false and the message, on every usage route', async () => {
    const unavailable = {
      pln_available: false,
      usd_pln: null,
      effective_date: null,
      table_no: null,
      source: null,
      message: 'PLN conversion temporarily unavailable',
    };
    const noPln = {
      cost_pln: null,
      cost_pln_grosz: null,
      exchange_rate: null,
      exchange_rate_date: null,
      exchange_rate_source: null,
    };
    const billed = '4191200'; // 0.003224 × 1.3 = 0.0041912
    const summary = await t.as(ADMIN_TOKEN).get(`${USAGE}/summary?client_id=${orgId}`).expect(200);
    expect(summary.body.stats.exchange_rate_info).toEqual(unavailable);
    expect(summary.body.stats.this_month).toMatchObject({ cost_nano_usd: billed, ...noPln });
    for (const path of [
      `${USAGE}/today`,
      `${USAGE}/by-user/${orgId}`,
      `${USAGE}/by-model/${orgId}`,
      `${USAGE}/billing?month=2026-04`,
    ]) {
      const res = await t.as(ADMIN_TOKEN).get(path).expect(200);
      expect(res.body.exchange_rate_info, path).toEqual(unavailable);
      expect(res.body.totals, path).toMatchObject(noPln);
    }
    const realTime = await t.as(ADMIN_TOKEN).get(`/api/v1/usage-tracking/usage/real-time/${orgId}`).expect(200);
    expect(realTime.body).toMatchObject({ cost_nano_usd: '0', ...noPln, exchange_rate_info: unavailable });
    expect(nbp.requests.length).toBeGreaterThan(0);
    expect(nbp.requests.every((r) => r.status === 503)).toBe(true);
  });

  it('billing statement: a day without a known table A rate says so, and the total is not a silent 0', async () => {
    const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=2026-04`).expect(200);
    const line = res.body.clients.find((c: { client_org_id: string }) => c.client_org_id === orgId);
    expect(line.days).toEqual([
      expect.objectContaining({
        date: DAY,
        cost_nano_usd: '4191200',
        cost_pln: null,
        cost_pln_grosz: null,
        rate: null,
        pln_unavailable_reason: expect.stringContaining(`before ${DAY}`),
      }),
    ]);
    expect(line.statement_pln).toMatchObject({ cost_pln: null, complete: false, days_without_rate: [DAY] });
    expect(res.body.totals.statement_pln).toMatchObject({ cost_pln_grosz: null, days_without_rate: [DAY] });

    const csv = csvObjects(
      (await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=2026-04&format=csv`).expect(200)).text,
      ',',
    );
    const day = csv.find((r) => r.line === 'day')!;
    expect(day).toMatchObject({ date: DAY, cost_usd: '0.0041912', cost_pln: '', rate_table_no: '' });
    expect(day.note).toContain(`before ${DAY}`);
    expect(csv.find((r) => r.line === 'client_total')).toMatchObject({ cost_pln: '' });
    expect(csv.find((r) => r.line === 'client_total')!.note).toContain(`incomplete: no NBP Table A rate for ${DAY}`);
  });
});
