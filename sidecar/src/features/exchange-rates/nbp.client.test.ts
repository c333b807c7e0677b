import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeNbp, type FakeNbp } from '../../../../test/fakes/nbp/fake-nbp.js';
import { NbpError, createNbpClient, parseNbpResponse } from './nbp.client.js';

describe('NBP client against the fake NBP', () => {
  let nbp: FakeNbp;
  const client = () => createNbpClient({ apiBase: nbp.url, timeoutSeconds: 1 });

  beforeAll(async () => {
    nbp = await createFakeNbp({
      now: () => new Date('2026-06-30T12:00:00Z'),
      rates: { C: { '2016-04-04': { bid: '3.6929', ask: '3.7675' } } },
      from: '2016-04-01',
    });
  });
  afterAll(async () => nbp?.close());
  beforeEach(() => {
    nbp.requests.length = 0;
    Object.assign(nbp.behavior, { delayMs: 0, downWith: null });
  });

  it('reads the documented table C example exactly', async () => {
    const rate = await client().rate('C', '2016-04-04');
    expect(rate).toEqual({
      table: 'C',
      tableNo: '064/C/NBP/2016',
      effectiveDate: '2016-04-04',
      bid: '3.6929',
      ask: '3.7675',
      mid: null,
    });
    expect(nbp.requests).toEqual([
      expect.objectContaining({ path: '/api/exchangerates/rates/c/usd/2016-04-04/', status: 200 }),
    ]);
  });

  it('keeps the decimal NBP wrote, never a float', () => {
    const body =
      '{"table":"A","currency":"dolar amerykański","code":"USD","rates":[{"no":"001/A/NBP/2026","effectiveDate":"2026-01-02","mid":4.1000},{"no":"002/A/NBP/2026","effectiveDate":"2026-01-05","mid":3.6000000000000001}]}';
    expect(parseNbpResponse(body, 'A').map((r) => r.mid)).toEqual(['4.1000', '3.6000000000000001']);
  });

  it('takes NBP’s plain-text 404 as "no table that day"', async () => {
    expect(await client().rate('A', '2025-12-25')).toBeNull();
    expect(await client().rate('C', '2026-04-06')).toBeNull();
    expect(await client().rates('C', '2025-12-24', '2025-12-28')).toEqual([]);
    expect(nbp.requests.map((r) => r.status)).toEqual([404, 404, 404]);
  });

  it('splits a long range into requests NBP accepts (≤ 93 days)', async () => {
    const rates = await client().rates('A', '2026-01-01', '2026-06-30');
    expect(nbp.requests.map((r) => r.path)).toEqual([
      '/api/exchangerates/rates/a/usd/2026-01-01/2026-04-03/',
      '/api/exchangerates/rates/a/usd/2026-04-04/2026-06-30/',
    ]);
    expect(rates.map((r) => r.effectiveDate).slice(0, 3)).toEqual(['2026-01-02', '2026-01-05', '2026-01-07']);
    expect(rates.at(-1)).toMatchObject({ effectiveDate: '2026-06-30', tableNo: '124/A/NBP/2026' });
    expect(new Set(rates.map((r) => r.effectiveDate)).size).toBe(rates.length);
  });

  it('reports NBP’s 400 for a range over 93 days as a bad request', async () => {
    const res = await fetch(`${nbp.url}/api/exchangerates/rates/a/usd/2026-01-01/2026-04-04/?format=json`);
    expect([res.status, await res.text()]).toEqual([
      400,
      '400 BadRequest - Przekroczony limit 93 dni / Limit of 93 days has been exceeded',
    ]);
    nbp.fail(400, 1, '400 BadRequest - Błędny zakres dat / Invalid date range');
    await expect(client().rate('A', '2026-01-02')).rejects.toMatchObject({ kind: 'bad_request', status: 400 });
  });

  it('fails clearly on 5xx, garbage and timeouts', async () => {
    nbp.behavior.downWith = 503;
    await expect(client().rate('A', '2026-01-02')).rejects.toMatchObject({ kind: 'http', status: 503 });
    nbp.behavior.downWith = null;
    nbp.fail(200, 1, '<html>maintenance</html>');
    await expect(client().rate('A', '2026-01-02')).rejects.toMatchObject({ kind: 'invalid_response' });
    nbp.behavior.delayMs = 1500;
    const error = await client()
      .rate('A', '2026-01-02')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NbpError);
    expect(error).toMatchObject({ kind: 'timeout' });
  });

  it('fails clearly when NBP is unreachable', async () => {
    const closed = await createFakeNbp();
    await closed.close();
    await expect(
      createNbpClient({ apiBase: closed.url, timeoutSeconds: 1 }).rate('A', '2026-01-02'),
    ).rejects.toMatchObject({
      kind: 'network',
    });
  });
});
