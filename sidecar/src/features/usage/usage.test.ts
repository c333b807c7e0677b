import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLISH_HOLIDAYS, createFakeNbp, type FakeNbp } from '../../../../test/fakes/nbp/fake-nbp.js';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../../test-support/harness.js';
import { usageEventOfValues } from '../ledger/ledger.store.js';
import { readLedgerValues } from './usage.store.js';

const BASE = '/api/v1/client-organizations';
const USAGE = `${BASE}/usage`;
const OWUI_ADMIN = 'owui-admin-token';
const NOW = '2026-03-31T10:00:00Z'; // 12:00 in Warsaw (CEST) on 31 March
const TODAY = '2026-03-31';
const QUOTED_MODEL = 'acme/odd, "quoted" model';
const MANUAL_REASON = 'refund, "double charge"\r\nsecond line';

/** mulberry32: the same "random" usage on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The Warsaw calendar day of an instant, worked out with Intl (independently of the app's luxon). */
const warsawDay = (instant: string) =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/Warsaw',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(instant));

const nanoText = (nano: bigint) => {
  const digits = nano.toString().padStart(10, '0');
  return `${digits.slice(0, -9)}.${digits.slice(-9)}`;
};

/** nano-USD × an NBP rate (4-decimal text) → grosz, half away from zero — worked out here, not with pln.ts. */
const groszOf = (nano: bigint, rate: string) => {
  const [whole, fraction = ''] = rate.split('.');
  const product = nano * BigInt(whole! + fraction.padEnd(4, '0')) * 100n; // nano-USD × 1e-4 PLN/USD × 100 gr
  const divisor = 10n ** 13n;
  const magnitude = ((product < 0n ? -product : product) * 2n + divisor) / (2n * divisor);
  return product < 0n ? -magnitude : magnitude;
};

/** The last NBP business day before a day, from the fake's hand-written holiday list. */
const businessDayBefore = (day: string) => {
  let d = new Date(`${day}T12:00:00Z`);
  for (;;) {
    d = new Date(d.getTime() - 86_400_000);
    const iso = d.toISOString().slice(0, 10);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6 && !POLISH_HOLIDAYS.has(iso)) return iso;
  }
};

/** The display rate every PLN figure of these tests uses: table C ask of TODAY (published 8:00). */
let displayAsk = '';

/** billed = raw × markup (ppm), half away from zero — computed here for positive amounts. */
const billedOf = (raw: bigint, ppm: bigint) => (raw * ppm + 500_000n) / 1_000_000n;

type LedgerRow = {
  eventId: string;
  org: string;
  user: string;
  model: string;
  day: string;
  source: string;
  input: number;
  output: number;
  raw: bigint;
  billed: bigint;
};

type Sums = { requests: number; tokens: number; input: number; output: number; raw: bigint; billed: bigint };

function sumOf(rows: LedgerRow[]): Sums {
  const sums: Sums = { requests: 0, tokens: 0, input: 0, output: 0, raw: 0n, billed: 0n };
  for (const row of rows) {
    if (row.source !== 'manual') sums.requests += 1;
    sums.input += row.input;
    sums.output += row.output;
    sums.tokens += row.input + row.output;
    sums.raw += row.raw;
    sums.billed += row.billed;
  }
  return sums;
}

const groupBy = <K extends keyof LedgerRow>(rows: LedgerRow[], key: K) => {
  const groups = new Map<string, LedgerRow[]>();
  for (const row of rows) groups.set(String(row[key]), [...(groups.get(String(row[key])) ?? []), row]);
  return groups;
};

type StatementDayJson = {
  date: string;
  requests: number;
  cost_nano_usd: string;
  raw_cost_nano_usd?: string;
  cost_pln_grosz: string | null;
  rate: { usd_pln: number; table_no: string; effective_date: string; source: string } | null;
};

type StatementLine = TotalsJson & {
  client_org_id: string;
  days: StatementDayJson[];
  statement_pln: { cost_pln_grosz: string | null; complete: boolean };
};

type TotalsJson = {
  requests: number;
  tokens: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  cost_nano_usd: string;
  raw_cost_nano_usd?: string;
  profit_nano_usd?: string;
  cost_pln: number | null;
  cost_pln_grosz: string | null;
  exchange_rate: number | null;
  exchange_rate_date: string | null;
  exchange_rate_source: string | null;
};

/** A totals object of the API equals the ledger's sums, exactly. */
function expectTotals(actual: TotalsJson, expected: Sums, operator: boolean) {
  expect({
    requests: actual.requests,
    tokens: actual.tokens,
    input_tokens: actual.input_tokens,
    output_tokens: actual.output_tokens,
    cost_nano_usd: actual.cost_nano_usd,
  }).toEqual({
    requests: expected.requests,
    tokens: expected.tokens,
    input_tokens: expected.input,
    output_tokens: expected.output,
    cost_nano_usd: expected.billed.toString(),
  });
  // The JSON number is the same decimal as the exact string.
  expect(BigInt(Math.round(actual.cost * 1e9))).toBe(expected.billed);
  // PLN beside it at the display rate (table C ask), to the grosz.
  const grosz = groszOf(expected.billed, displayAsk);
  expect({
    cost_pln: actual.cost_pln,
    cost_pln_grosz: actual.cost_pln_grosz,
    exchange_rate: actual.exchange_rate,
    exchange_rate_date: actual.exchange_rate_date,
    exchange_rate_source: actual.exchange_rate_source,
  }).toEqual({
    cost_pln: Number(grosz) / 100,
    cost_pln_grosz: grosz.toString(),
    exchange_rate: Number(displayAsk),
    exchange_rate_date: TODAY,
    exchange_rate_source: 'NBP Table C',
  });
  if (operator) {
    expect(actual.raw_cost_nano_usd).toBe(expected.raw.toString());
    expect(actual.profit_nano_usd).toBe((expected.billed - expected.raw).toString());
  } else {
    for (const key of ['raw_cost', 'raw_cost_nano_usd', 'profit', 'profit_nano_usd', 'markup_rate']) {
      expect(actual).not.toHaveProperty(key);
    }
  }
}

/** RFC 4180: records end in CRLF; fields with a comma, quote or line break are quoted, quotes doubled. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
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
      if (i < text.length && text[i] !== ',' && text[i] !== '\r') throw new Error(`text after a closing quote at ${i}`);
    } else if (c === ',') {
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
      throw new Error(`bare LF at ${i}: records must end in CRLF`);
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

describe.each(databaseKinds)('usage reports on %s', (kind) => {
  let t: TestApp;
  let nbp: FakeNbp;
  let ledger: LedgerRow[];
  const orgs: Record<'a' | 'b' | 'c' | 'other', string> = { a: '', b: '', c: '', other: '' };
  const DEFAULT_ORG = 'org_default_default';
  const expectedEvents = new Map<string, { org: string; day: string; raw: bigint | null; billed: bigint }>();

  const inRange = (rows: LedgerRow[], from: string, to: string) => rows.filter((r) => r.day >= from && r.day <= to);
  const ofOrg = (rows: LedgerRow[], org: string) => rows.filter((r) => r.org === org);

  beforeAll(async () => {
    let clock = () => new Date(NOW);
    nbp = await createFakeNbp({ now: () => clock() });
    t = await createTestApp(kind, { now: NOW, env: { NBP_API_BASE: nbp.url } });
    clock = t.deps.now;
    displayAsk = nbp.table('C', TODAY)!.ask!;
    const op = t.as(ADMIN_TOKEN);
    const markups: Record<string, bigint> = {};
    const create = async (name: string, body: Record<string, unknown>, ppm: bigint) => {
      const res = await op
        .post(`${BASE}/clients`)
        .send({ name, ...body })
        .expect(201);
      markups[res.body.id] = ppm;
      return res.body.id as string;
    };
    orgs.a = await create('Alpha', {}, 1_300_000n);
    orgs.b = await create('Beta', { markup_rate: '1.234567' }, 1_234_567n);
    orgs.c = await create('Gamma', { markup_rate: 2 }, 2_000_000n);
    orgs.other = await create('Other tenant', { instance_id: 'other', markup_rate: '1.1' }, 1_100_000n);
    markups[DEFAULT_ORG] = 1_300_000n;
    const userOrg: Record<string, string> = {
      'user-1': orgs.a,
      'u-a2': orgs.a,
      'user-2': orgs.b,
      'u-b2': orgs.b,
      'u-c1': orgs.c,
      'u-unmapped': DEFAULT_ORG, // learned on first use
    };
    for (const [user, org] of Object.entries(userOrg)) {
      if (org !== DEFAULT_ORG)
        await op.post(`${BASE}/user-mappings`).send({ user_id: user, client_org_id: org }).expect(201);
    }

    const random = prng(20260329);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const users = Object.keys(userOrg);
    const models = [
      'openai/gpt-4o-mini',
      'anthropic/claude-3.5-sonnet',
      'deepseek/deepseek-chat',
      'google/gemini-2.0-flash',
      QUOTED_MODEL,
    ];
    const start = Date.parse('2026-02-20T00:00:00Z');
    const end = Date.parse('2026-03-31T09:59:59Z');
    const instants = Array.from({ length: 360 }, () =>
      new Date(start + Math.floor(random() * (end - start))).toISOString(),
    );
    // Around midnight at the DST change, the month change and today's start.
    instants.push(
      '2026-02-28T22:59:59.000Z', // 28 Feb 23:59:59 CET
      '2026-02-28T23:00:00.000Z', // 1 Mar 00:00 CET
      '2026-03-28T22:59:59.000Z', // 28 Mar 23:59:59 CET
      '2026-03-28T23:00:00.000Z', // 29 Mar 00:00 CET
      '2026-03-29T00:59:59.000Z', // 29 Mar 01:59:59 CET
      '2026-03-29T01:00:00.000Z', // 29 Mar 03:00 CEST
      '2026-03-29T21:59:59.000Z', // 29 Mar 23:59:59 CEST
      '2026-03-29T22:00:00.000Z', // 30 Mar 00:00 CEST
      '2026-03-30T21:59:59.000Z', // 30 Mar 23:59:59
      '2026-03-30T22:00:00.000Z', // 31 Mar 00:00 (today)
      ...Array.from({ length: 20 }, (_, i) =>
        new Date(Date.parse('2026-03-30T22:00:00Z') + i * 1_700_000).toISOString(),
      ),
    );
    const events = instants.map((occurredAt, i) => {
      const user = pick(users);
      const nano = BigInt(Math.floor(random() * 50_000_000)) + (i % 7 === 0 ? 5n : 0n);
      const style = Math.floor(random() * 20);
      // Decimal text, a JSON number, scientific notation; now and then no cost (pending).
      const cost =
        style === 0 ? undefined : style < 7 ? nanoText(nano) : style < 14 ? Number(nanoText(nano)) : `${nano}e-9`;
      const eventId = `gen-seed-${i.toString().padStart(4, '0')}`;
      const org = userOrg[user]!;
      const raw = cost === undefined ? null : nano;
      expectedEvents.set(eventId, {
        org,
        day: warsawDay(occurredAt),
        raw,
        billed: raw === null ? 0n : billedOf(raw, markups[org]!),
      });
      return {
        event_id: eventId,
        kind: 'completion',
        occurred_at: occurredAt,
        user: { id: user, email: `${user}@client.example`, name: user },
        model: pick(models),
        channel: random() < 0.8 ? 'ui' : 'api',
        usage: {
          input_tokens: Math.floor(random() * 5000),
          output_tokens: Math.floor(random() * 2000),
          ...(cost === undefined ? {} : { cost_usd: cost }),
        },
      };
    });
    // Shuffled, so batches mix days, users and orgs.
    for (let i = events.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [events[i], events[j]] = [events[j]!, events[i]!];
    }
    for (let i = 0; i < events.length; i += 45) {
      const res = await t.ingest({ events: events.slice(i, i + 45) }).expect(200);
      expect(res.body.duplicates).toBe(0);
    }
    // A correction (negative, no request) in Alpha and usage in another instance's org.
    await op
      .post('/api/v1/usage-tracking/usage/manual-record')
      .send({
        client_org_id: orgs.a,
        model: 'openai/gpt-4o-mini',
        cost: '-0.5',
        reason: MANUAL_REASON,
        occurred_at: '2026-03-15T12:00:00Z',
        event_id: 'manual-refund-1',
      })
      .expect(201);
    await op
      .post('/api/v1/usage-tracking/usage/manual-record')
      .send({
        client_org_id: orgs.other,
        model: 'openai/gpt-4o-mini',
        cost: 5,
        tokens: 100,
        reason: 'other tenant usage',
        occurred_at: '2026-03-15T12:00:00Z',
      })
      .expect(201);

    const rows: Record<string, unknown>[] = await t.db('usage_events').select();
    ledger = rows.map((r) => ({
      eventId: String(r.event_id),
      org: String(r.client_org_id),
      user: String(r.user_id),
      model: String(r.model),
      day: String(r.usage_day),
      source: String(r.source),
      input: Number(r.input_tokens),
      output: Number(r.output_tokens),
      raw: BigInt(String(r.raw_cost_nano_usd)),
      billed: BigInt(String(r.billed_cost_nano_usd)),
    }));
  });
  afterAll(async () => {
    await t?.close();
    await nbp?.close();
  });

  it('wrote every event to the ledger with the cost, org and Warsaw day worked out here', () => {
    expect(ledger).toHaveLength(expectedEvents.size + 2);
    for (const row of ledger.filter((r) => r.source === 'filter')) {
      const expected = expectedEvents.get(row.eventId)!;
      expect({ org: row.org, day: row.day, raw: row.raw, billed: row.billed }).toEqual({
        org: expected.org,
        day: expected.day,
        raw: expected.raw ?? 0n,
        billed: expected.billed,
      });
    }
    const days = new Set(ledger.map((r) => r.day));
    for (const day of ['2026-02-28', '2026-03-01', '2026-03-29', '2026-03-30', TODAY]) expect(days).toContain(day);
    expect(ledger.find((r) => r.eventId === 'manual-refund-1')).toMatchObject({
      raw: -500_000_000n,
      billed: -650_000_000n,
    });
  });

  it('billing: every org line and the total equal the ledger (operator sees raw cost and profit)', async () => {
    for (const month of ['2026-02', '2026-03']) {
      const from = `${month}-01`;
      const to = month === '2026-02' ? '2026-02-28' : '2026-03-31';
      const rows = inRange(ledger, from, to);
      const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/billing?month=${month}`).expect(200);
      expect(res.body.period).toEqual({ from, to });
      const ids = res.body.clients.map((c: { client_org_id: string }) => c.client_org_id);
      expect(ids).toEqual(expect.arrayContaining([orgs.a, orgs.b, orgs.c, orgs.other, DEFAULT_ORG]));
      let sum = 0n;
      let statementSum = 0n;
      for (const line of res.body.clients as StatementLine[]) {
        const orgRows = ofOrg(rows, line.client_org_id);
        expectTotals(line, sumOf(orgRows), true);
        sum += BigInt(line.cost_nano_usd);
        // One line per day with usage; PLN at table A mid of the business day before, summed exactly.
        const byDay = groupBy(orgRows, 'day');
        expect(line.days.map((d) => d.date)).toEqual([...byDay.keys()].sort());
        let orgGrosz = 0n;
        for (const day of line.days) {
          const expected = sumOf(byDay.get(day.date)!);
          expect(day.cost_nano_usd).toBe(expected.billed.toString());
          expect(day.raw_cost_nano_usd).toBe(expected.raw.toString());
          expect(day.requests).toBe(expected.requests);
          const effective = businessDayBefore(day.date);
          const mid = nbp.table('A', effective)!.mid!;
          expect(day.rate).toEqual({
            usd_pln: Number(mid),
            table_no: nbp.table('A', effective)!.no,
            effective_date: effective,
            source: 'NBP Table A',
          });
          expect(day.cost_pln_grosz).toBe(groszOf(expected.billed, mid).toString());
          orgGrosz += groszOf(expected.billed, mid);
        }
        expect(line.statement_pln).toMatchObject({
          cost_pln_grosz: orgGrosz.toString(),
          source: 'NBP Table A',
          complete: true,
          days_without_rate: [],
        });
        statementSum += orgGrosz;
      }
      expectTotals(res.body.totals, sumOf(rows), true);
      expect(sum.toString()).toBe(res.body.totals.cost_nano_usd);
      expect(res.body.totals.statement_pln.cost_pln_grosz).toBe(statementSum.toString());
      expect(res.body.exchange_rate_info).toMatchObject({ pln_available: true, source: 'NBP Table C' });
    }
  });

  it('billing for an Open WebUI admin: only its instance, no raw cost, profit or markup', async () => {
    const res = await t.as(OWUI_ADMIN).get(`/client_organizations/usage/billing?month=2026-03`).expect(200);
    const ids: string[] = res.body.clients.map((c: { client_org_id: string }) => c.client_org_id);
    expect(ids).not.toContain(orgs.other);
    const mine = inRange(ledger, '2026-03-01', '2026-03-31').filter((r) => ids.includes(r.org));
    expect(ids.sort()).toEqual([orgs.a, orgs.b, orgs.c, DEFAULT_ORG].sort());
    for (const line of res.body.clients as StatementLine[]) {
      expectTotals(line, sumOf(ofOrg(mine, line.client_org_id)), false);
      for (const day of line.days) {
        for (const key of ['raw_cost', 'raw_cost_nano_usd', 'profit', 'profit_nano_usd']) {
          expect(day).not.toHaveProperty(key);
        }
      }
    }
    expectTotals(res.body.totals, sumOf(mine), false);
  });

  it('by-user and by-model add up exactly to the org total and to the ledger', async () => {
    const periods: [string, string, string][] = [
      ['month=2026-03', '2026-03-01', '2026-03-31'],
      ['from=2026-02-25&to=2026-03-29', '2026-02-25', '2026-03-29'],
      ['from=2026-03-29&to=2026-03-29', '2026-03-29', '2026-03-29'],
    ];
    for (const org of [orgs.a, orgs.b, orgs.c, DEFAULT_ORG]) {
      for (const [query, from, to] of periods) {
        const rows = ofOrg(inRange(ledger, from, to), org);
        for (const [token, operator] of [
          [ADMIN_TOKEN, true],
          [OWUI_ADMIN, false],
        ] as const) {
          const byUser = await t.as(token).get(`${USAGE}/by-user/${org}?${query}`).expect(200);
          expect(byUser.body.period).toEqual({ from, to });
          const users = groupBy(rows, 'user');
          expect(byUser.body.users.map((u: { user_id: string }) => u.user_id).sort()).toEqual([...users.keys()].sort());
          let userSum = 0n;
          for (const line of byUser.body.users as (TotalsJson & { user_id: string })[]) {
            expectTotals(line, sumOf(users.get(line.user_id)!), operator);
            userSum += BigInt(line.cost_nano_usd);
          }
          expectTotals(byUser.body.totals, sumOf(rows), operator);
          expect(userSum).toBe(sumOf(rows).billed);

          const byModel = await t.as(token).get(`${USAGE}/by-model/${org}?${query}`).expect(200);
          const models = groupBy(rows, 'model');
          expect(byModel.body.models.map((m: { model: string }) => m.model).sort()).toEqual([...models.keys()].sort());
          let modelSum = 0n;
          for (const line of byModel.body.models as (TotalsJson & { model: string })[]) {
            expectTotals(line, sumOf(models.get(line.model)!), operator);
            modelSum += BigInt(line.cost_nano_usd);
          }
          expectTotals(byModel.body.totals, sumOf(rows), operator);
          expect(modelSum).toBe(sumOf(rows).billed);
        }
      }
    }
  });

  it('summary: today, this month and each of the last 30 days (DST day included) equal the ledger', async () => {
    for (const org of [orgs.a, orgs.b, DEFAULT_ORG]) {
      const rows = ofOrg(ledger, org);
      const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/summary?client_id=${org}`).expect(200);
      expect(res.body).toMatchObject({ success: true, client_org_id: org, currency: 'USD' });
      const { today, this_month: month, daily_history: history } = res.body.stats;
      expect(res.body.stats.exchange_rate_info).toEqual({
        pln_available: true,
        usd_pln: Number(displayAsk),
        effective_date: TODAY,
        table_no: nbp.table('C', TODAY)!.no,
        source: 'NBP Table C',
        stale: false,
      });
      expect(today.date).toBe(TODAY);
      expectTotals(today, sumOf(inRange(rows, TODAY, TODAY)), true);
      expect(month.month).toBe('2026-03');
      expectTotals(month, sumOf(inRange(rows, '2026-03-01', TODAY)), true);
      expect(month.days_elapsed).toBe(31);
      expect(month.days_active).toBe(
        new Set(
          inRange(rows, '2026-03-01', TODAY)
            .filter((r) => r.source !== 'manual')
            .map((r) => r.day),
        ).size,
      );
      expect(history).toHaveLength(30);
      expect(history[0].date).toBe('2026-03-02');
      expect(history[29].date).toBe(TODAY);
      for (const day of history as (TotalsJson & { date: string })[]) {
        expectTotals(day, sumOf(inRange(rows, day.date, day.date)), true);
      }
      const dst = (history as { date: string; requests: number }[]).find((d) => d.date === '2026-03-29')!;
      expect(dst.requests).toBe(sumOf(inRange(rows, '2026-03-29', '2026-03-29')).requests);
    }
    const asAdmin = await t.as(OWUI_ADMIN).get(`${USAGE}/summary?client_id=${orgs.a}`).expect(200);
    expectTotals(asAdmin.body.stats.this_month, sumOf(inRange(ofOrg(ledger, orgs.a), '2026-03-01', TODAY)), false);
    expectTotals(
      asAdmin.body.stats.daily_history[27],
      sumOf(inRange(ofOrg(ledger, orgs.a), '2026-03-29', '2026-03-29')),
      false,
    );
    const noClient = await t.as(ADMIN_TOKEN).get(`${USAGE}/summary`).expect(400);
    expect(noClient.body.error.message).toMatch(/^client_id/);
  });

  it('today: every org of the caller, and the total', async () => {
    const todays = inRange(ledger, TODAY, TODAY);
    const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/today`).expect(200);
    expect(res.body.date).toBe(TODAY);
    for (const line of res.body.clients as (TotalsJson & { client_org_id: string })[]) {
      expectTotals(line, sumOf(ofOrg(todays, line.client_org_id)), true);
    }
    expectTotals(res.body.totals, sumOf(todays), true);
    expect(sumOf(todays).requests).toBeGreaterThan(20);
    const one = await t.as(OWUI_ADMIN).get(`${USAGE}/today?client_id=${orgs.b}`).expect(200);
    expect(one.body.clients).toHaveLength(1);
    expectTotals(one.body.totals, sumOf(ofOrg(todays, orgs.b)), false);
  });

  it('exports CSV (RFC 4180) with exactly the ledger rows of the range', async () => {
    const from = '2026-03-10';
    const to = '2026-03-29';
    const res = await t
      .as(ADMIN_TOKEN)
      .get(`${USAGE}/export?format=csv&client_id=${orgs.a}&from=${from}&to=${to}`)
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toContain('attachment');
    const text = res.text;
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...records] = parseCsv(text);
    expect(header).toEqual(
      expect.arrayContaining([
        'event_id',
        'usage_day',
        'user_id',
        'model',
        'cost_nano_usd',
        'raw_cost_nano_usd',
        'reason',
      ]),
    );
    const col = (name: string) => header!.indexOf(name);
    expect(records.every((r) => r.length === header!.length)).toBe(true);
    const expected = ofOrg(inRange(ledger, from, to), orgs.a);
    expect(records.map((r) => r[col('event_id')]).sort()).toEqual(expected.map((r) => r.eventId).sort());
    expect(records.reduce((sum, r) => sum + BigInt(r[col('cost_nano_usd')]!), 0n)).toBe(sumOf(expected).billed);
    expect(records.reduce((sum, r) => sum + BigInt(r[col('raw_cost_nano_usd')]!), 0n)).toBe(sumOf(expected).raw);
    expect(records.every((r) => r[col('usage_day')]! >= from && r[col('usage_day')]! <= to)).toBe(true);
    // Quoting survives: a model with a comma and quotes, a reason with a line break.
    const quoted = records.filter((r) => r[col('model')] === QUOTED_MODEL);
    expect(quoted.length).toBe(expected.filter((r) => r.model === QUOTED_MODEL).length);
    expect(quoted.length).toBeGreaterThan(0);
    expect(text).toContain('"acme/odd, ""quoted"" model"');
    expect(records.find((r) => r[col('event_id')] === 'manual-refund-1')?.[col('reason')]).toBe(MANUAL_REASON);

    // A client admin's export has the same rows without raw cost.
    const admin = parseCsv(
      (await t.as(OWUI_ADMIN).get(`${USAGE}/export?client_id=${orgs.a}&from=${from}&to=${to}`).expect(200)).text,
    );
    expect(admin[0]).not.toContain('raw_cost_nano_usd');
    expect(admin[0]).not.toContain('markup_rate');
    expect(admin).toHaveLength(records.length + 1);

    // No rows: still a header.
    const empty = await t
      .as(ADMIN_TOKEN)
      .get(`${USAGE}/export?format=csv&client_id=${orgs.a}&from=2025-01-01&to=2025-01-31`)
      .expect(200);
    expect(parseCsv(empty.text)).toEqual([header]);
  });

  it('reads an export org by org in day order, each ledger row exactly once, across pages', async () => {
    const [from, to] = ['2026-02-01', '2026-03-31'];
    const orgIds = [orgs.b, orgs.a];
    for (const pageSize of [1, 3, 7, 1000]) {
      const read: { org: string; day: string; id: string }[] = [];
      for await (const page of readLedgerValues(t.db, { clientOrgIds: orgIds, from, to }, pageSize)) {
        expect(page.length).toBeLessThanOrEqual(pageSize);
        const events = page.map(usageEventOfValues);
        read.push(...events.map((e) => ({ org: e.clientOrgId, day: e.usageDay, id: e.eventId })));
      }
      const expected = orgIds.flatMap((org) => ofOrg(inRange(ledger, from, to), org));
      // Enough rows, several on one day, that pages end inside a day.
      expect(expected.length).toBeGreaterThan(20);
      expect(new Set(expected.map((r) => `${r.org} ${r.day}`)).size).toBeLessThan(expected.length);
      expect(read.map((r) => r.id).sort()).toEqual(expected.map((r) => r.eventId).sort());
      expect(new Set(read.map((r) => r.id)).size).toBe(read.length);
      // Org b's rows, then org a's; within an org, days never go backwards.
      const firstOfA = read.findIndex((r) => r.org === orgs.a);
      expect(read.slice(0, firstOfA).every((r) => r.org === orgs.b)).toBe(true);
      expect(read.slice(firstOfA).every((r) => r.org === orgs.a)).toBe(true);
      expect(read.every((r, i) => i === 0 || r.org !== read[i - 1]!.org || r.day >= read[i - 1]!.day)).toBe(true);
    }
    // One user's rows only.
    const user = ofOrg(inRange(ledger, from, to), orgs.a)[0]!.user;
    const mine: string[] = [];
    for await (const page of readLedgerValues(t.db, { clientOrgIds: [orgs.a], from, to, userId: user }, 2)) {
      mine.push(...page.map((values) => usageEventOfValues(values).eventId));
    }
    expect(mine.sort()).toEqual(
      ofOrg(inRange(ledger, from, to), orgs.a)
        .filter((r) => r.user === user)
        .map((r) => r.eventId)
        .sort(),
    );
  });

  it('exports JSON with exactly the ledger rows and totals of the range', async () => {
    const from = '2026-02-27';
    const to = '2026-03-02';
    const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/export?format=json&from=${from}&to=${to}`).expect(200);
    const body = JSON.parse(res.text) as {
      period: unknown;
      events: { event_id: string; cost_nano_usd: string }[];
      totals: TotalsJson;
    };
    expect(body.period).toEqual({ from, to });
    const expected = inRange(ledger, from, to);
    expect(body.events.map((e) => e.event_id).sort()).toEqual(expected.map((r) => r.eventId).sort());
    expect(body.events.reduce((sum, e) => sum + BigInt(e.cost_nano_usd), 0n)).toBe(sumOf(expected).billed);
    expectTotals(body.totals, sumOf(expected), true);

    const admin = JSON.parse(
      (await t.as(OWUI_ADMIN).get(`${USAGE}/export?format=json&month=2026-03`).expect(200)).text,
    ) as {
      events: Record<string, unknown>[];
      totals: TotalsJson;
    };
    const visible = inRange(ledger, '2026-03-01', '2026-03-31').filter((r) => r.org !== orgs.other);
    expect(admin.events).toHaveLength(visible.length);
    expect(admin.events.some((e) => e.client_org_id === orgs.other)).toBe(false);
    expect(admin.events.every((e) => !('raw_cost_nano_usd' in e))).toBe(true);
    expectTotals(admin.totals, sumOf(visible), false);
  });

  it('CSV and JSON exports show the same value in every column of every row', async () => {
    const range = `from=2026-03-01&to=2026-03-31`;
    for (const token of [ADMIN_TOKEN, OWUI_ADMIN]) {
      const [header, ...records] = parseCsv((await t.as(token).get(`${USAGE}/export?${range}`).expect(200)).text);
      const json = JSON.parse((await t.as(token).get(`${USAGE}/export?format=json&${range}`).expect(200)).text) as {
        events: Record<string, unknown>[];
      };
      expect(records.length).toBe(json.events.length);
      expect(records.length).toBeGreaterThan(20);
      const byId = new Map(json.events.map((event) => [event.event_id, event]));
      for (const record of records) {
        const event = byId.get(record[0]);
        expect(Object.keys(event!)).toEqual(header);
        expect(record).toEqual(header!.map((name) => (event![name] === null ? '' : String(event![name]))));
      }
    }
  });

  it('my-organization: a user sees only their own org, in full', async () => {
    for (const [token, org] of [
      ['owui-user-token', orgs.a],
      ['owui-user2-token', orgs.b],
    ] as const) {
      const rows = ofOrg(ledger, org);
      const res = await t.as(token).get(`${USAGE}/my-organization`).expect(200);
      expect(res.body.client_org_id).toBe(org);
      expectTotals(res.body.stats.this_month, sumOf(inRange(rows, '2026-03-01', TODAY)), false);
      expectTotals(res.body.stats.today, sumOf(inRange(rows, TODAY, TODAY)), false);
      const today = await t.as(token).get(`/client_organizations/usage/my-organization/today`).expect(200);
      expect(today.body).toMatchObject({ success: true, client_org_id: org, currency: 'USD' });
      expect(today.body.exchange_rate_info).toMatchObject({ pln_available: true, usd_pln: Number(displayAsk) });
      expectTotals(today.body.today, sumOf(inRange(rows, TODAY, TODAY)), false);
    }
  });

  it("my-organization: the caller's own today and month (stats.me), exact against the ledger", async () => {
    // user-1 shares Alpha with u-a2, user-2 shares Beta with u-b2: "me" is a strict part of the org.
    await t
      .as(ADMIN_TOKEN)
      .post(`${BASE}/user-mappings`)
      .send({ user_id: 'user-2', client_org_id: orgs.b, monthly_limit_usd: 40 })
      .expect(201);
    for (const [token, user, org] of [
      ['owui-user-token', 'user-1', orgs.a],
      ['owui-user2-token', 'user-2', orgs.b],
    ] as const) {
      const mine = ledger.filter((r) => r.org === org && r.user === user);
      const others = inRange(
        ledger.filter((r) => r.org === org && r.user !== user),
        '2026-03-01',
        TODAY,
      );
      expect(sumOf(inRange(mine, '2026-03-01', TODAY)).requests).toBeGreaterThan(0);
      expect(sumOf(inRange(mine, TODAY, TODAY)).requests).toBeGreaterThan(0);
      expect(others.length).toBeGreaterThan(0);
      const res = await t.as(token).get(`${USAGE}/my-organization`).expect(200);
      const { me } = res.body.stats;
      expect(me.user_id).toBe(user);
      expect(me.today.date).toBe(TODAY);
      expectTotals(me.today, sumOf(inRange(mine, TODAY, TODAY)), false);
      expect(me.this_month.month).toBe('2026-03');
      expectTotals(me.this_month, sumOf(inRange(mine, '2026-03-01', TODAY)), false);
      // The org's figures are still the whole org's.
      expectTotals(res.body.stats.this_month, sumOf(inRange(ofOrg(ledger, org), '2026-03-01', TODAY)), false);
      const today = await t.as(token).get(`${USAGE}/my-organization/today`).expect(200);
      expect(today.body.me.user_id).toBe(user);
      expectTotals(today.body.me.today, sumOf(inRange(mine, TODAY, TODAY)), false);
    }
    // The user's own limit comes from their mapping; user-1 has none.
    const withLimit = await t.as('owui-user2-token').get(`${USAGE}/my-organization`).expect(200);
    const billed = sumOf(
      inRange(
        ledger.filter((r) => r.org === orgs.b && r.user === 'user-2'),
        '2026-03-01',
        TODAY,
      ),
    ).billed;
    expect(withLimit.body.stats.me.this_month.monthly_limit_usd).toBe(40);
    expect(withLimit.body.stats.me.this_month.limit_used_pct).toBe(
      Number((billed * 10_000n + 20_000_000_000n) / 40_000_000_000n) / 100,
    );
    const noLimit = await t.as('owui-user-token').get(`${USAGE}/my-organization`).expect(200);
    expect(noLimit.body.stats.me.this_month).toMatchObject({ monthly_limit_usd: null, limit_used_pct: null });
    // An admin in no mapped org sees its own usage in the default org: none here.
    const admin = await t.as(OWUI_ADMIN).get(`${USAGE}/my-organization`).expect(200);
    expect(admin.body.client_org_id).toBe(DEFAULT_ORG);
    expectTotals(admin.body.stats.me.this_month, sumOf([]), false);
    // The operator has no own usage: 400 as before.
    await t.as(ADMIN_TOKEN).get(`${USAGE}/my-organization`).expect(400);
  });

  it('a user cannot read another org (404) nor the admin routes (403)', async () => {
    const user = t.as('owui-user-token');
    for (const path of [
      `${USAGE}/summary?client_id=${orgs.a}`,
      `${USAGE}/today`,
      `${USAGE}/billing`,
      `${USAGE}/by-user/${orgs.a}`,
      `${USAGE}/by-model/${orgs.a}`,
      `${USAGE}/export`,
    ]) {
      const res = await user.get(path).expect(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    const other = await user.get(`/api/v1/usage-tracking/usage/real-time/${orgs.b}`).expect(404);
    expect(other.body.error.code).toBe('not_found');
    await user.get(`/api/v1/usage-tracking/usage/real-time/${orgs.a}`).expect(200);
  });

  it('answers bad query parameters with 400 naming the field', async () => {
    const cases: [string, string][] = [
      [`billing?month=2026-13`, 'month'],
      [`billing?month=march`, 'month'],
      [`by-user/${orgs.a}?month=2026-13`, 'month'],
      [`by-user/${orgs.a}?from=2026-03-10&to=2026-03-01`, 'from'],
      [`by-model/${orgs.a}?from=2026-02-30`, 'from'],
      [`by-model/${orgs.a}?month=2026-03&from=2026-03-01`, 'month'],
      [`export?from=2025-01-01&to=2026-03-01`, 'to'],
      [`export?format=xml`, 'format'],
      [`export?from=2026-03-10&to=2026-03-01`, 'from'],
    ];
    for (const [path, field] of cases) {
      const res = await t.as(ADMIN_TOKEN).get(`${USAGE}/${path}`);
      expect(res.status, path).toBe(400);
      expect(res.body.error.message, path).toMatch(new RegExp(`^${field}\\b`));
    }
    await t.as(ADMIN_TOKEN).get(`${USAGE}/by-user/org_missing`).expect(404);
  });
});
