import knex from 'knex';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeNbp, type FakeNbp } from '../../../../test/fakes/nbp/fake-nbp.js';
import { databaseKinds } from '../../test-support/databases.js';
import { createTestApp, type TestApp } from '../../test-support/harness.js';
import { createExchangeRates } from './exchange-rates.service.js';
import { convertToPln, formatPln } from './pln.js';

/** A Warsaw wall-clock time as an instant. */
const warsaw = (local: string) => DateTime.fromISO(local, { zone: 'Europe/Warsaw' }).toJSDate();

// Rates the fake publishes on these days instead of generated ones, so PLN can be worked out by hand.
const TABLE_A = { '2026-03-12': '3.7001', '2026-03-13': '3.9876', '2026-04-03': '3.9512', '2025-12-23': '3.6000' };
const TABLE_C = {
  '2025-12-23': { bid: '3.5712', ask: '3.6434' },
  '2026-04-03': { bid: '3.9100', ask: '3.9890' },
  '2026-03-11': { bid: '3.9209', ask: '4.0000' },
};

describe.each(databaseKinds)('exchange rates on %s', (kind) => {
  let t: TestApp;
  let nbp: FakeNbp;
  let clock: () => Date = () => new Date();

  const service = (nbpConfig: Partial<TestApp['config']['nbp']> = {}) =>
    createExchangeRates({
      db: t.db,
      config: { ...t.config, nbp: { ...t.config.nbp, ...nbpConfig } },
      logger: t.deps.logger,
      now: t.deps.now,
    });
  const at = (local: string) => t.setNow(warsaw(local));
  const requestCount = () => nbp.requests.length;

  beforeAll(async () => {
    nbp = await createFakeNbp({ now: () => clock(), rates: { A: TABLE_A, C: TABLE_C } });
    t = await createTestApp(kind, { env: { NBP_API_BASE: nbp.url, NBP_API_TIMEOUT: '1' } });
    clock = t.deps.now;
  });
  afterAll(async () => {
    await t?.close();
    await nbp?.close();
  });
  beforeEach(async () => {
    await t.db('exchange_rates').del();
    nbp.requests.length = 0;
    Object.assign(nbp.behavior, { delayMs: 0, downWith: null, publishAt: { A: '12:00', C: '08:00' } });
  });

  describe('display rate (table C ask)', () => {
    it('walks back over Christmas 2025 (24–28 December) to Tuesday the 23rd', async () => {
      const expected = {
        usdPln: '3.6434',
        effectiveDate: '2025-12-23',
        tableNo: nbp.table('C', '2025-12-23')!.no,
        source: 'NBP Table C',
        stale: false,
      };
      for (const day of ['2025-12-24', '2025-12-25', '2025-12-26', '2025-12-27', '2025-12-28']) {
        at(`${day}T10:00`);
        expect(await service().displayRate(), day).toMatchObject(expected);
      }
      // One range request per walk-back, NBP_MAX_DAYS_BACK (7) days wide.
      expect(nbp.requests[0]).toMatchObject({
        path: '/api/exchangerates/rates/c/usd/2025-12-17/2025-12-24/',
        status: 200,
      });
      expect(requestCount()).toBe(5);
      // Stored with its number and date, the rate exactly as NBP wrote it.
      const row = await t.db('exchange_rates').where({ nbp_table: 'C', effective_date: '2025-12-23' }).first();
      expect(row).toMatchObject({
        table_no: expected.tableNo,
        bid: '3.5712',
        ask: '3.6434',
        mid: null,
        currency: 'USD',
      });
    });

    it('gives up after NBP_MAX_DAYS_BACK days: null, not an error', async () => {
      at('2025-12-27T10:00'); // 4 days back reaches the 23rd
      expect(await service({ maxDaysBack: 4 }).displayRate()).toMatchObject({ effectiveDate: '2025-12-23' });
      await t.db('exchange_rates').del();
      at('2025-12-28T10:00'); // 4 days back reaches only the 24th
      expect(await service({ maxDaysBack: 4 }).displayRate()).toBeNull();
      expect(nbp.requests.at(-1)).toMatchObject({
        path: '/api/exchangerates/rates/c/usd/2025-12-24/2025-12-28/',
        status: 404,
      });
    });

    it('walks back over Easter 2026 and takes the new table after 8:15 on Tuesday', async () => {
      const rates = service();
      at('2026-04-04T10:00'); // Saturday
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-04-03', usdPln: '3.9890' });
      at('2026-04-05T09:00'); // Easter Sunday, within the 24 h cache
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-04-03' });
      expect(requestCount()).toBe(1);
      at('2026-04-06T10:00'); // Easter Monday: the cache has aged out, NBP still has nothing newer
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-04-03' });
      expect(requestCount()).toBe(2);
      at('2026-04-07T07:30'); // Tuesday before publication: still cached
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-04-03' });
      expect(requestCount()).toBe(2);
      at('2026-04-07T08:16');
      expect(await rates.displayRate()).toMatchObject({
        effectiveDate: '2026-04-07',
        tableNo: nbp.table('C', '2026-04-07')!.no,
        usdPln: nbp.table('C', '2026-04-07')!.ask,
      });
      at('2026-04-07T15:00');
      await rates.displayRate();
      expect(requestCount()).toBe(3);
    });

    it('caches for NBP_CACHE_TTL_HOURS, and refreshes after 8:15 on business days', async () => {
      const rates = service();
      at('2026-03-11T09:00');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-11', usdPln: '4.0000' });
      at('2026-03-11T20:00');
      at('2026-03-12T08:10');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-11' });
      expect(requestCount()).toBe(1);
      at('2026-03-12T08:16');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-12' });
      expect(requestCount()).toBe(2);

      at('2026-03-13T09:00');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-13' });
      at('2026-03-14T08:59'); // Saturday, 23 h 59 min later
      await rates.displayRate();
      expect(requestCount()).toBe(3);
      at('2026-03-14T09:00'); // 24 h: aged out, asks again, NBP has nothing newer
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-13', stale: false });
      expect(requestCount()).toBe(4);
      // A restarted sidecar ages the stored rate by when NBP last confirmed it.
      at('2026-03-14T20:00');
      expect(await service().displayRate()).toMatchObject({ effectiveDate: '2026-03-13' });
      expect(requestCount()).toBe(4);
      // A shorter TTL asks sooner.
      expect(await service({ cacheTtlHours: 1 }).displayRate()).toMatchObject({ effectiveDate: '2026-03-13' });
      expect(requestCount()).toBe(5);
    });

    it('when NBP is late past 8:15 asks again every half hour, not on every call', async () => {
      nbp.behavior.publishAt.C = '08:40';
      const rates = service();
      at('2026-03-16T08:16');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-13' });
      at('2026-03-16T08:30');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-13' });
      expect(requestCount()).toBe(1);
      at('2026-03-16T08:46');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-16' });
      expect(requestCount()).toBe(2);
    });

    it('with NBP down answers the last stored rate marked stale, else null — never an error', async () => {
      const rates = service();
      at('2026-03-11T09:00');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-11', stale: false });

      nbp.behavior.downWith = 503;
      at('2026-03-12T09:00');
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-11', usdPln: '4.0000', stale: true });
      expect(nbp.requests.at(-1)?.status).toBe(503);
      at('2026-03-12T09:01'); // callers do not each wait for a dead NBP
      expect(await rates.displayRate()).toMatchObject({ effectiveDate: '2026-03-11', stale: true });
      expect(requestCount()).toBe(2);
      // A restarted sidecar falls back on the database.
      expect(await service().displayRate()).toMatchObject({ effectiveDate: '2026-03-11', stale: true });
      expect(requestCount()).toBe(3);

      await t.db('exchange_rates').del();
      expect(await service().displayRate()).toBeNull();
      nbp.behavior.downWith = null;
      nbp.behavior.delayMs = 1500; // past NBP_API_TIMEOUT=1
      expect(await service().displayRate()).toBeNull();

      nbp.behavior.delayMs = 0;
      expect(await service().displayRate()).toMatchObject({ effectiveDate: '2026-03-12', stale: false });
    });

    it('survives its own database failing', async () => {
      const unmigrated = knex({ client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
      try {
        const broken = createExchangeRates({
          db: unmigrated,
          config: t.config,
          logger: t.deps.logger,
          now: t.deps.now,
        });
        at('2026-03-16T10:00');
        await expect(broken.displayRate()).resolves.toBeNull();
        await expect(broken.statutoryRate('2026-03-16')).resolves.toBeNull();
      } finally {
        await unmigrated.destroy();
      }
    });
  });

  describe('statutory rate (table A mid of the last business day before the cost day)', () => {
    beforeEach(() => at('2026-04-20T13:00'));

    it('uses the previous business day, walking back over weekends and holidays', async () => {
      const rates = service();
      expect(await rates.statutoryRate('2026-03-16')).toEqual({
        usdPln: '3.9876', // Monday's cost at Friday's table
        effectiveDate: '2026-03-13',
        tableNo: nbp.table('A', '2026-03-13')!.no,
        source: 'NBP Table A',
        forDay: '2026-03-16',
      });
      expect(nbp.requests).toEqual([
        expect.objectContaining({ path: '/api/exchangerates/rates/a/usd/2026-03-02/2026-03-15/' }),
      ]);
      expect(await rates.statutoryRate('2026-03-13')).toMatchObject({ effectiveDate: '2026-03-12', usdPln: '3.7001' }); // never the same day
      expect(await rates.statutoryRate('2026-03-14')).toMatchObject({ effectiveDate: '2026-03-13' }); // Saturday
      expect(await rates.statutoryRate('2026-04-07')).toMatchObject({ effectiveDate: '2026-04-03', usdPln: '3.9512' }); // after Easter
      expect(await rates.statutoryRate('2025-12-29')).toMatchObject({ effectiveDate: '2025-12-23', usdPln: '3.6000' }); // after Christmas
      expect(await rates.statutoryRate('2026-01-07')).toMatchObject({ effectiveDate: '2026-01-05' }); // after Epiphany
      expect(await rates.statutoryRate('2026-01-02')).toMatchObject({ effectiveDate: '2025-12-31' }); // across the year
      expect(await rates.statutoryRate('2026-04-21')).toBeNull(); // after today in Warsaw
      expect(await rates.statutoryRate('not-a-day')).toBeNull();
    });

    it('converts to PLN equal to hand-computed figures to the grosz', async () => {
      const rates = service();
      const monday = await rates.statutoryRate('2026-03-16');
      const afterEaster = await rates.statutoryRate('2026-04-07');
      // $100 × 3.9876 = 398.76 zł
      expect(formatPln(convertToPln(100_000_000_000n, monday!.usdPln))).toBe('398.76');
      // $1,234.56789 × 3.9512 = 4,878.024646968 zł → 4,878.02 zł
      expect(formatPln(convertToPln(1_234_567_890_000n, afterEaster!.usdPln))).toBe('4878.02');
      // $0.003224 × 3.9876 = 0.0128560224 zł → 0.01 zł
      expect(formatPln(convertToPln(3_224_000n, monday!.usdPln))).toBe('0.01');
      // $12.5 × 3.9876 = 49.845 zł → 49.85 zł (half away from zero)
      expect(formatPln(convertToPln(12_500_000_000n, monday!.usdPln))).toBe('49.85');
    });

    it('answers a month in one request, then from the database; without NBP only what the calendar vouches for', async () => {
      const rates = service();
      const march = Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')}`);
      const first = await rates.statutoryRates(march);
      expect(requestCount()).toBe(1);
      expect([...first.values()].every((rate) => rate !== null)).toBe(true);
      expect(first.get('2026-03-16')?.effectiveDate).toBe('2026-03-13');
      expect(first.get('2026-03-01')?.effectiveDate).toBe('2026-02-27'); // Sunday 1st: Friday 27 February

      expect(await service().statutoryRates(march)).toEqual(first);
      expect(requestCount()).toBe(1);

      nbp.behavior.downWith = 503;
      expect(await service().statutoryRates(march)).toEqual(first);
      await t.db('exchange_rates').where({ nbp_table: 'A', effective_date: '2026-03-12' }).del();
      const withGap = await service().statutoryRates(march);
      expect(withGap.get('2026-03-13')).toBeNull(); // Thursday's table is missing and NBP cannot be asked
      expect(withGap.get('2026-03-16')?.effectiveDate).toBe('2026-03-13');
      nbp.behavior.downWith = null;
      expect((await service().statutoryRates(march)).get('2026-03-13')?.effectiveDate).toBe('2026-03-12');
    });
  });

  describe('the nbp-rates job', () => {
    it('stores the latest tables C and A, and fails visibly when NBP is down', async () => {
      at('2026-03-16T12:20');
      expect(await t.deps.scheduler.runNow('nbp-rates')).toEqual({
        tableC: nbp.table('C', '2026-03-16')!.no,
        tableA: nbp.table('A', '2026-03-16')!.no,
      });
      const stored = await t.db('exchange_rates').where({ effective_date: '2026-03-16' }).orderBy('nbp_table');
      expect(stored.map((r) => [r.nbp_table, r.table_no, r.mid, r.ask])).toEqual([
        ['A', nbp.table('A', '2026-03-16')!.no, nbp.table('A', '2026-03-16')!.mid, null],
        ['C', nbp.table('C', '2026-03-16')!.no, null, nbp.table('C', '2026-03-16')!.ask],
      ]);
      expect(t.deps.health.jobs.get('nbp-rates')).toMatchObject({ ok: true });

      nbp.behavior.downWith = 503;
      at('2026-03-17T08:20');
      await expect(t.deps.scheduler.runNow('nbp-rates')).rejects.toThrow(/503/);
      expect(t.deps.health.jobs.get('nbp-rates')).toMatchObject({ ok: false });
    });
  });
});
