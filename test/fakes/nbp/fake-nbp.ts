/**
 * A fake NBP exchange-rate API (DESIGN §6), in process: the documented JSON of tables A and C
 * for USD, the plain-text errors, and publication times, so tests drive the sidecar's NBP code
 * through NBP_API_BASE without the live service.
 *
 * Its calendar is a plain list of dates written out by hand — deliberately not the sidecar's
 * computed one, so a mistake in either shows up as a test failure.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';

/** Polish public holidays, 2016 and 2024–2026 (NBP publishes no tables on them). */
// prettier-ignore
export const POLISH_HOLIDAYS: ReadonlySet<string> = new Set([
  // 2016: Easter 27 March (the year of NBP's documented example, 064/C/NBP/2016 on 4 April)
  '2016-01-01', '2016-01-06', '2016-03-27', '2016-03-28', '2016-05-01', '2016-05-03', '2016-05-15',
  '2016-05-26', '2016-08-15', '2016-11-01', '2016-11-11', '2016-12-25', '2016-12-26',
  // 2024: Easter 31 March
  '2024-01-01', '2024-01-06', '2024-03-31', '2024-04-01', '2024-05-01', '2024-05-03', '2024-05-19',
  '2024-05-30', '2024-08-15', '2024-11-01', '2024-11-11', '2024-12-25', '2024-12-26',
  // 2025: Easter 20 April; Wigilia (24 December) a holiday from 2025 on
  '2025-01-01', '2025-01-06', '2025-04-20', '2025-04-21', '2025-05-01', '2025-05-03', '2025-06-08',
  '2025-06-19', '2025-08-15', '2025-11-01', '2025-11-11', '2025-12-24', '2025-12-25', '2025-12-26',
  // 2026: Easter 5 April
  '2026-01-01', '2026-01-06', '2026-04-05', '2026-04-06', '2026-05-01', '2026-05-03', '2026-05-24',
  '2026-06-04', '2026-08-15', '2026-11-01', '2026-11-11', '2026-12-24', '2026-12-25', '2026-12-26',
]);

export type FakeTableName = 'A' | 'C';

/** One published table for USD; rates as decimal text exactly as they go out in the JSON. */
export type FakeTable = { no: string; effectiveDate: string; mid?: string; bid?: string; ask?: string };

export type FakeNbpOptions = {
  /** The clock publication follows; default the real one. */
  now?: () => Date;
  /** Warsaw time ('HH:MM') each table comes out on its day; default C 08:00, A 12:00 (real: C 7:45–8:15, A 11:45–12:15). */
  publishAt?: { A?: string; C?: string };
  /** Days with tables (business days only; the holiday list covers 2016 and 2024–2026); default 2024-01-01..2026-12-31. */
  from?: string;
  to?: string;
  /** Rates to publish instead of the generated ones, per table and day. */
  rates?: { A?: Record<string, string>; C?: Record<string, { bid: string; ask: string }> };
};

export type FakeNbpRequest = { path: string; status: number; at: string };

export type FakeNbpBehavior = {
  /** Delay before answering any request (for timeouts). */
  delayMs: number;
  /** Answer every request with this status (e.g. 503) until cleared; null for normal service. */
  downWith: number | null;
  /** Warsaw time ('HH:MM') each table comes out on its day; change it to play a late NBP. */
  publishAt: Record<FakeTableName, string>;
};

export type FakeNbp = {
  url: string;
  requests: FakeNbpRequest[];
  behavior: FakeNbpBehavior;
  /** The next `times` requests answer `status` with a plain-text body. */
  fail(status: number, times?: number, body?: string): void;
  /** What the fake publishes for a day (ignoring publication time), for building expectations. */
  table(table: FakeTableName, day: string): FakeTable | undefined;
  close(): Promise<void>;
};

const WARSAW = 'Europe/Warsaw';
const NOT_FOUND = '404 NotFound - Not Found - Brak danych';
const RANGE_LIMIT = '400 BadRequest - Przekroczony limit 93 dni / Limit of 93 days has been exceeded';
const BAD_RANGE = '400 BadRequest - Błędny zakres dat / Invalid date range';
const LAST_LIMIT = '400 BadRequest - Przekroczony limit 255 wyników / Limit of 255 results has been exceeded';

const units4 = (units: number) => `${Math.floor(units / 10_000)}.${String(units % 10_000).padStart(4, '0')}`;

function generateTables(
  from: string,
  to: string,
  overrides: FakeNbpOptions['rates'],
): Record<FakeTableName, Map<string, FakeTable>> {
  const tables = { A: new Map<string, FakeTable>(), C: new Map<string, FakeTable>() };
  let year = 0;
  let sequence = 0;
  // Table numbers count business days from 1 January, so counting starts there whatever `from` is.
  const first = DateTime.fromISO(from, { zone: 'utc' }).startOf('year');
  for (let day = first; day.toISODate()! <= to; day = day.plus({ days: 1 })) {
    const iso = day.toISODate()!;
    if (day.weekday > 5 || POLISH_HOLIDAYS.has(iso)) continue;
    if (day.year !== year) [year, sequence] = [day.year, 0];
    sequence += 1;
    if (iso < from) continue;
    const number = String(sequence).padStart(3, '0');
    // Plausible, deterministic, different every day: mid 3.5000–4.2999 PLN.
    const mid = 35_000 + ((Math.floor(day.toSeconds() / 86_400) * 7_919) % 8_000);
    const c = mid + 13;
    tables.A.set(iso, { no: `${number}/A/NBP/${year}`, effectiveDate: iso, mid: overrides?.A?.[iso] ?? units4(mid) });
    tables.C.set(iso, {
      no: `${number}/C/NBP/${year}`,
      effectiveDate: iso,
      bid: overrides?.C?.[iso]?.bid ?? units4(c - 376),
      ask: overrides?.C?.[iso]?.ask ?? units4(c + 384),
    });
  }
  return tables;
}

/** NBP writes rates as JSON numbers; written from the decimal text so nothing passes through a float. */
function tableJson(table: FakeTableName, rows: FakeTable[]): string {
  const rates = rows.map((row) =>
    table === 'A'
      ? `{"no":"${row.no}","effectiveDate":"${row.effectiveDate}","mid":${row.mid}}`
      : `{"no":"${row.no}","effectiveDate":"${row.effectiveDate}","bid":${row.bid},"ask":${row.ask}}`,
  );
  return `{"table":"${table}","currency":"dolar amerykański","code":"USD","rates":[${rates.join(',')}]}`;
}

export async function createFakeNbp(options: FakeNbpOptions = {}): Promise<FakeNbp> {
  const now = options.now ?? (() => new Date());
  const tables = generateTables(options.from ?? '2024-01-01', options.to ?? '2026-12-31', options.rates);
  const requests: FakeNbpRequest[] = [];
  const behavior: FakeNbpBehavior = {
    delayMs: 0,
    downWith: null,
    publishAt: { A: options.publishAt?.A ?? '12:00', C: options.publishAt?.C ?? '08:00' },
  };
  const faults: { status: number; body: string }[] = [];

  function published(table: FakeTableName, day: string): FakeTable | undefined {
    const row = tables[table].get(day);
    if (!row) return undefined;
    const [hour, minute] = behavior.publishAt[table].split(':').map(Number);
    const at = DateTime.fromISO(day, { zone: WARSAW }).set({ hour, minute });
    return now().getTime() >= at.toMillis() ? row : undefined;
  }

  function publishedBetween(table: FakeTableName, from: string, to: string): FakeTable[] {
    return [...tables[table].keys()]
      .filter((day) => day >= from && day <= to)
      .sort()
      .flatMap((day) => published(table, day) ?? []);
  }

  const isDay = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value) && DateTime.fromISO(value).isValid;

  /** [status, body] for a path below /api/exchangerates/rates/. */
  function answer(parts: string[]): [number, string] {
    const [tableName, currency, ...rest] = parts;
    const table = tableName?.toUpperCase();
    if ((table !== 'A' && table !== 'C') || currency?.toLowerCase() !== 'usd') return [404, NOT_FOUND];
    const respond = (rows: FakeTable[]): [number, string] =>
      rows.length ? [200, tableJson(table, rows)] : [404, NOT_FOUND];
    const today = DateTime.fromJSDate(now()).setZone(WARSAW).toISODate()!;

    if (rest.length === 1 && rest[0] === 'today')
      return respond(published(table, today) ? [published(table, today)!] : []);
    if (rest.length === 0) return respond(publishedBetween(table, '0000-01-01', today).slice(-1));
    if (rest.length === 2 && rest[0] === 'last') {
      const n = Number(rest[1]);
      if (!Number.isInteger(n) || n < 1) return [400, BAD_RANGE];
      if (n > 255) return [400, LAST_LIMIT];
      return respond(publishedBetween(table, '0000-01-01', today).slice(-n));
    }
    if (rest.length === 1) {
      const day = rest[0]!;
      if (!isDay(day)) return [400, BAD_RANGE];
      const row = published(table, day);
      return respond(row ? [row] : []);
    }
    if (rest.length === 2) {
      const [start, end] = rest as [string, string];
      if (!isDay(start) || !isDay(end) || end < start) return [400, BAD_RANGE];
      const days = DateTime.fromISO(end).diff(DateTime.fromISO(start), 'days').days + 1;
      if (days > 93) return [400, RANGE_LIMIT];
      return respond(publishedBetween(table, start, end));
    }
    return [404, NOT_FOUND];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-nbp');
    if (behavior.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behavior.delayMs));
    if (res.destroyed) return;
    let status: number;
    let body: string;
    const fault = faults.shift();
    const prefix = '/api/exchangerates/rates/';
    if (fault) [status, body] = [fault.status, fault.body];
    else if (behavior.downWith !== null)
      [status, body] = [behavior.downWith, `${behavior.downWith} Service Unavailable`];
    else if (req.method !== 'GET' || !url.pathname.startsWith(prefix)) [status, body] = [404, NOT_FOUND];
    else [status, body] = answer(url.pathname.slice(prefix.length).split('/').filter(Boolean));
    requests.push({ path: url.pathname, status, at: now().toISOString() });
    res.writeHead(status, {
      'content-type': status === 200 ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    });
    res.end(body);
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behavior,
    fail(status, times = 1, body = `${status} Error`) {
      for (let i = 0; i < times; i += 1) faults.push({ status, body });
    },
    table: (table, day) => tables[table].get(day),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
