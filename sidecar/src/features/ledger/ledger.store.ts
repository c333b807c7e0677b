import type { Db } from '../../db/dialect.js';
import { intParam, isPostgres, toBool } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

/** How a ledger row's cost came to be. */
export type CostStatus = 'reported' | 'pending' | 'reconciled' | 'estimated' | 'manual';
export type EventSource = 'filter' | 'webhook' | 'manual' | 'sync';

/** One row of usage_events: one completion (or correction), immutable once written. */
export type UsageEvent = {
  eventId: string;
  source: EventSource;
  clientOrgId: string;
  userId: string;
  model: string;
  channel: string;
  occurredAt: string;
  usageDay: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  costStatus: CostStatus;
  providerCostNanoUsd: bigint | null;
  upstreamCostNanoUsd: bigint | null;
  isByok: boolean;
  rawCostNanoUsd: bigint;
  markupRatePpm: bigint;
  billedCostNanoUsd: bigint;
  generationId: string | null;
  chatId: string | null;
  messageId: string | null;
  externalUser: string | null;
  reason: string | null;
  recordedAt: string;
};

export type GenerationStart = {
  generationId: string;
  eventId: string;
  clientOrgId: string;
  userId: string;
  model: string;
  channel: string;
  chatId: string | null;
  messageId: string | null;
  startedAt: string;
  recordedAt: string;
};

type Row = Record<string, unknown>;
const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
const nullableBigInt = (value: unknown) => (value === null || value === undefined ? null : toBigInt(value));
const nullableParam = (value: bigint | null) => (value === null ? null : intParam(value));

/**
 * A ledger row given as its values in USAGE_EVENT_COLUMNS order (how large reads fetch them, see
 * openValuesReader); USAGE_EVENT_COLUMN_INDEX names each position.
 */
export function usageEventOfValues(values: readonly unknown[]): UsageEvent {
  const value = (column: UsageEventColumn) => values[USAGE_EVENT_COLUMN_INDEX[column]];
  return {
    eventId: String(value('event_id')),
    source: String(value('source')) as EventSource,
    clientOrgId: String(value('client_org_id')),
    userId: String(value('user_id')),
    model: String(value('model')),
    channel: String(value('channel')),
    occurredAt: String(value('occurred_at')),
    usageDay: String(value('usage_day')),
    inputTokens: Number(value('input_tokens')),
    outputTokens: Number(value('output_tokens')),
    cachedTokens: Number(value('cached_tokens')),
    reasoningTokens: Number(value('reasoning_tokens')),
    costStatus: String(value('cost_status')) as CostStatus,
    providerCostNanoUsd: nullableBigInt(value('provider_cost_nano_usd')),
    upstreamCostNanoUsd: nullableBigInt(value('upstream_cost_nano_usd')),
    isByok: toBool(value('is_byok')),
    rawCostNanoUsd: toBigInt(value('raw_cost_nano_usd')),
    markupRatePpm: toBigInt(value('markup_rate_ppm')),
    billedCostNanoUsd: toBigInt(value('billed_cost_nano_usd')),
    generationId: text(value('generation_id')),
    chatId: text(value('chat_id')),
    messageId: text(value('message_id')),
    externalUser: text(value('external_user')),
    reason: text(value('reason')),
    recordedAt: String(value('recorded_at')),
  };
}

export function rowToUsageEvent(row: Row): UsageEvent {
  return usageEventOfValues(USAGE_EVENT_COLUMNS.map((column) => row[column]));
}

function usageEventToRow(event: UsageEvent): Row {
  return {
    event_id: event.eventId,
    source: event.source,
    client_org_id: event.clientOrgId,
    user_id: event.userId,
    model: event.model,
    channel: event.channel,
    occurred_at: event.occurredAt,
    usage_day: event.usageDay,
    input_tokens: event.inputTokens,
    output_tokens: event.outputTokens,
    cached_tokens: event.cachedTokens,
    reasoning_tokens: event.reasoningTokens,
    cost_status: event.costStatus,
    provider_cost_nano_usd: nullableParam(event.providerCostNanoUsd),
    upstream_cost_nano_usd: nullableParam(event.upstreamCostNanoUsd),
    is_byok: event.isByok,
    raw_cost_nano_usd: intParam(event.rawCostNanoUsd),
    markup_rate_ppm: intParam(event.markupRatePpm),
    billed_cost_nano_usd: intParam(event.billedCostNanoUsd),
    generation_id: event.generationId,
    chat_id: event.chatId,
    message_id: event.messageId,
    external_user: event.externalUser,
    reason: event.reason,
    recorded_at: event.recordedAt,
  };
}

// 25 columns × 400 rows stays under SQLite's 32,766 bound parameters.
const INSERT_CHUNK = 400;

/**
 * The ledger's writes run once per group commit and carry hundreds of rows, so their SQL is
 * written here once and reused, rather than compiled by the query builder per flush.
 * `ON CONFLICT … RETURNING` reads the same on both databases. PostgreSQL gets multi-row VALUES
 * (SQL cached per row count). SQLite gets all rows as ONE JSON parameter unpacked by json_each:
 * the sqlite3 driver converts every bound value on the event loop, one by one, which for
 * 25 columns × hundreds of rows cost more than the insert itself; JSON text is parsed by SQLite
 * on the driver's worker thread. Values arrive as they would have been bound (integers as
 * text, booleans as 1/0), and column affinity stores them the same way.
 */
export const USAGE_EVENT_COLUMNS = [
  'event_id',
  'source',
  'client_org_id',
  'user_id',
  'model',
  'channel',
  'occurred_at',
  'usage_day',
  'input_tokens',
  'output_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'cost_status',
  'provider_cost_nano_usd',
  'upstream_cost_nano_usd',
  'is_byok',
  'raw_cost_nano_usd',
  'markup_rate_ppm',
  'billed_cost_nano_usd',
  'generation_id',
  'chat_id',
  'message_id',
  'external_user',
  'reason',
  'recorded_at',
] as const;

export type UsageEventColumn = (typeof USAGE_EVENT_COLUMNS)[number];
/** Each column's position in USAGE_EVENT_COLUMNS. */
export const USAGE_EVENT_COLUMN_INDEX = Object.fromEntries(
  USAGE_EVENT_COLUMNS.map((column, index) => [column, index]),
) as Record<UsageEventColumn, number>;

type SqlValue = string | number | boolean | null;

/** A ledger row's values in USAGE_EVENT_COLUMNS order, as they are bound. */
function usageEventValues(event: UsageEvent): SqlValue[] {
  const row = usageEventToRow(event);
  return USAGE_EVENT_COLUMNS.map((column) => row[column] as SqlValue);
}

function cached(cache: Map<number, string>, rows: number, build: (values: string) => string, columns: number) {
  let sql = cache.get(rows);
  if (sql === undefined) {
    const tuple = `(${Array.from({ length: columns }, () => '?').join(',')})`;
    sql = build(Array.from({ length: rows }, () => tuple).join(','));
    cache.set(rows, sql);
  }
  return sql;
}

/** Rows of a raw query: SQLite's driver answers with the rows, pg with a result holding them. */
function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as Row[]) : [];
}

/** `INSERT … SELECT` from a JSON array of row arrays (SQLite; `WHERE true` keeps ON CONFLICT an upsert clause). */
function sqliteJsonInsert(table: string, columns: readonly string[], conflict: string): string {
  const values = columns.map((_, index) => `value ->> ${index}`).join(', ');
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${values} FROM json_each(?) WHERE true ${conflict}`;
}

/**
 * A value as an SQLite literal, for scripts run with `exec` (which takes no parameters). Text
 * is quoted (a doubled quote is SQL's only escape); NUL cannot be written in a script, whose
 * text the driver hands over NUL-terminated, so text holding one is refused.
 */
function sqliteLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
    return String(value);
  }
  if (value.includes('\0')) throw new Error('text with a NUL character cannot go in a script');
  return `'${value.includes("'") ? value.replaceAll("'", "''") : value}'`;
}

/**
 * A row as `(v1,v2,…)`: a script holds thousands of them. Joined rather than concatenated value
 * by value, which left a chain of partial strings per row for the collector (measured: 4 KB per
 * ledger row).
 */
function sqliteTuple(row: readonly SqlValue[]): string {
  return `(${row.map(sqliteLiteral).join(',')})`;
}

const SCRIPT_ROWS_PER_INSERT = 500;

/**
 * Multi-row INSERTs with the values written as literals: SQLite parses VALUES lists far faster
 * than it unpacks the same rows from JSON (measured: 12 against 30–38 µs per 25-column row).
 * OR ROLLBACK: a violated constraint ends the whole transaction, which is what the script's
 * caller does anyway, so SQLite need not keep a statement journal to undo just the statement
 * (a temp file past 64 KiB; it took a quarter of the script's time in groups of 12 events).
 * Returned as pieces of the script, each statement ending in `;\n`, which the script joins once:
 * a string per statement was one more copy of every row.
 */
function sqliteValuesInserts(
  table: string,
  columns: readonly string[],
  conflict: string,
  rows: readonly SqlValue[][],
): string[] {
  const pieces: string[] = [];
  const head = `INSERT OR ROLLBACK INTO ${table} (${columns.join(', ')}) VALUES `;
  rows.forEach((row, index) => {
    const first = index % SCRIPT_ROWS_PER_INSERT === 0;
    if (first && index > 0) pieces.push(` ${conflict};\n`);
    pieces.push(first ? head : ',', sqliteTuple(row));
  });
  if (rows.length > 0) pieces.push(` ${conflict};\n`);
  return pieces;
}

// Rows per SQLite statement: one JSON parameter has no binding limit; this bounds its size.
const SQLITE_JSON_CHUNK = 2_000;

const sqliteInsertEvents = sqliteJsonInsert(
  'usage_events',
  USAGE_EVENT_COLUMNS,
  'ON CONFLICT (event_id) DO NOTHING RETURNING event_id',
);
const insertEventsSql = new Map<number, string>();

/** Inserts the events whose event_id is new; returns the ids that were inserted. */
export async function insertUsageEvents(db: Db, events: UsageEvent[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  if (!isPostgres(db)) {
    for (let i = 0; i < events.length; i += SQLITE_JSON_CHUNK) {
      const rows = events.slice(i, i + SQLITE_JSON_CHUNK).map(usageEventValues);
      const result = await db.raw(sqliteInsertEvents, [JSON.stringify(rows)]);
      for (const row of rowsOf(result)) inserted.add(String(row.event_id));
    }
    return inserted;
  }
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const chunk = events.slice(i, i + INSERT_CHUNK);
    const bindings = chunk.flatMap(usageEventValues);
    const sql = cached(
      insertEventsSql,
      chunk.length,
      (values) =>
        `INSERT INTO usage_events (${USAGE_EVENT_COLUMNS.join(', ')}) VALUES ${values} ` +
        'ON CONFLICT (event_id) DO NOTHING RETURNING event_id',
      USAGE_EVENT_COLUMNS.length,
    );
    for (const row of rowsOf(await db.raw(sql, bindings))) inserted.add(String(row.event_id));
  }
  return inserted;
}

/** A user's mapping with the markup of the org it maps to (null if that org is missing). */
export type UserOrg = {
  userId: string;
  clientOrgId: string;
  userEmail: string | null;
  userName: string | null;
  markupRatePpm: bigint | null;
};

const USER_CHUNK = 500;
/** Where a user's mapping and org are read from; `instanceId` is a placeholder or an SQL literal. */
const userOrgFrom = (instanceId = '?') =>
  `FROM user_client_mappings m LEFT JOIN client_organizations o ON o.id = m.client_org_id WHERE m.instance_id = ${instanceId}`;

/** The org and current markup of each given user that has a mapping, in one read. */
export async function findUserOrgs(db: Db, instanceId: string, userIds: string[]): Promise<UserOrg[]> {
  const found: UserOrg[] = [];
  for (let i = 0; i < userIds.length; i += USER_CHUNK) {
    const chunk = userIds.slice(i, i + USER_CHUNK);
    const rows = rowsOf(
      await db.raw(
        'SELECT m.user_id, m.client_org_id, m.user_email, m.user_name, o.markup_rate_ppm ' +
          `${userOrgFrom()} AND m.user_id IN (${chunk.map(() => '?').join(',')})`,
        [instanceId, ...chunk],
      ),
    );
    for (const row of rows) {
      found.push({
        userId: String(row.user_id),
        clientOrgId: String(row.client_org_id),
        userEmail: text(row.user_email),
        userName: text(row.user_name),
        markupRatePpm: nullableBigInt(row.markup_rate_ppm),
      });
    }
  }
  return found;
}

export type DailyKey = { clientOrgId: string; usageDay: string; userId: string; model: string };
/** The figures of one usage_daily row, as exact integers. */
export type DailyTotals = {
  requests: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  cachedTokens: bigint;
  reasoningTokens: bigint;
  rawCostNanoUsd: bigint;
  billedCostNanoUsd: bigint;
  pendingCostRequests: bigint;
};
export type DailyDelta = DailyKey & DailyTotals;

/** What one event adds to its rollup row. */
export function dailyDeltaOf(event: UsageEvent): DailyDelta {
  return {
    clientOrgId: event.clientOrgId,
    usageDay: event.usageDay,
    userId: event.userId,
    model: event.model,
    requests: event.source === 'manual' ? 0n : 1n,
    inputTokens: BigInt(event.inputTokens),
    outputTokens: BigInt(event.outputTokens),
    cachedTokens: BigInt(event.cachedTokens),
    reasoningTokens: BigInt(event.reasoningTokens),
    rawCostNanoUsd: event.rawCostNanoUsd,
    billedCostNanoUsd: event.billedCostNanoUsd,
    pendingCostRequests: event.costStatus === 'pending' ? 1n : 0n,
  };
}

/** usage_daily's figure columns, by field: the one list of them. */
export const totalsColumns = {
  requests: 'requests',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  cachedTokens: 'cached_tokens',
  reasoningTokens: 'reasoning_tokens',
  rawCostNanoUsd: 'raw_cost_nano_usd',
  billedCostNanoUsd: 'billed_cost_nano_usd',
  pendingCostRequests: 'pending_cost_requests',
} as const satisfies Record<keyof DailyTotals, string>;

/** Sums deltas that share a rollup row, so each row is upserted once per transaction. */
export function mergeDailyDeltas(deltas: DailyDelta[]): DailyDelta[] {
  const merged = new Map<string, DailyDelta>();
  for (const delta of deltas) {
    const key = JSON.stringify([delta.clientOrgId, delta.usageDay, delta.userId, delta.model]);
    const existing = merged.get(key);
    if (!existing) {
      merged.set(key, { ...delta });
      continue;
    }
    for (const field of Object.keys(totalsColumns) as (keyof DailyTotals)[]) {
      existing[field] += delta[field];
    }
  }
  return [...merged.values()];
}

const DAILY_KEY_COLUMNS = ['client_org_id', 'usage_day', 'user_id', 'model'] as const;
const DAILY_TOTAL_FIELDS = Object.keys(totalsColumns) as (keyof DailyTotals)[];
const DAILY_COLUMNS = [...DAILY_KEY_COLUMNS, ...DAILY_TOTAL_FIELDS.map((field) => totalsColumns[field]), 'updated_at'];
const DAILY_UPSERT =
  `ON CONFLICT (${DAILY_KEY_COLUMNS.join(', ')}) DO UPDATE SET ` +
  DAILY_TOTAL_FIELDS.map(
    (field) => `${totalsColumns[field]} = usage_daily.${totalsColumns[field]} + excluded.${totalsColumns[field]}`,
  ).join(', ') +
  ', updated_at = excluded.updated_at';
const sqliteUpsertDaily = sqliteJsonInsert('usage_daily', DAILY_COLUMNS, DAILY_UPSERT);

/** usage_daily rows (in DAILY_COLUMNS order) adding up the deltas, one per rollup key. */
function dailyRows(deltas: DailyDelta[], updatedAt: string): SqlValue[][] {
  return mergeDailyDeltas(deltas).map((delta) => {
    const row: SqlValue[] = [delta.clientOrgId, delta.usageDay, delta.userId, delta.model];
    for (const field of DAILY_TOTAL_FIELDS) row.push(intParam(delta[field]));
    row.push(updatedAt);
    return row;
  });
}
const upsertDailySql = new Map<number, string>();

/** Adds deltas to usage_daily; must run in the transaction that inserted their events. */
export async function addToDailyRollup(db: Db, deltas: DailyDelta[], updatedAt: string): Promise<void> {
  const rows = dailyRows(deltas, updatedAt);
  if (!isPostgres(db)) {
    for (let i = 0; i < rows.length; i += SQLITE_JSON_CHUNK) {
      await db.raw(sqliteUpsertDaily, [JSON.stringify(rows.slice(i, i + SQLITE_JSON_CHUNK))]);
    }
    return;
  }
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK);
    const sql = cached(
      upsertDailySql,
      chunk.length,
      (values) => `INSERT INTO usage_daily (${DAILY_COLUMNS.join(', ')}) VALUES ${values} ${DAILY_UPSERT}`,
      DAILY_COLUMNS.length,
    );
    await db.raw(sql, chunk.flat());
  }
}

const GENERATION_START_COLUMNS = [
  'generation_id',
  'event_id',
  'client_org_id',
  'user_id',
  'model',
  'channel',
  'chat_id',
  'message_id',
  'started_at',
  'recorded_at',
] as const;

function generationStartValues(start: GenerationStart): SqlValue[] {
  return [
    start.generationId,
    start.eventId,
    start.clientOrgId,
    start.userId,
    start.model,
    start.channel,
    start.chatId,
    start.messageId,
    start.startedAt,
    start.recordedAt,
  ];
}

/** Records stream starts; returns the generation ids that were new. */
export async function insertGenerationStarts(db: Db, starts: GenerationStart[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let i = 0; i < starts.length; i += INSERT_CHUNK) {
    const rows: Row[] = await db('generation_starts')
      .insert(
        starts
          .slice(i, i + INSERT_CHUNK)
          .map((start) =>
            Object.fromEntries(generationStartValues(start).map((v, c) => [GENERATION_START_COLUMNS[c], v])),
          ),
      )
      .onConflict('generation_id')
      .ignore()
      .returning('generation_id');
    for (const row of rows) inserted.add(String(row.generation_id));
  }
  return inserted;
}

/**
 * A group's writes as one SQLite script, between BEGIN and COMMIT: first a check that every
 * user's org, markup, email and name are still those the rows were priced with (a CHECK on a
 * temporary table stops the script if not), then the events, what they add to usage_daily, and
 * the stream starts. Events and starts are inserted without ON CONFLICT: an id already
 * recorded stops the script too, and its OR ROLLBACK ends the transaction. A script stopped
 * otherwise (the check, a database error) leaves its transaction open for the caller to roll back.
 */
export function sqliteLedgerScript(
  instanceId: string,
  users: UserOrg[],
  events: UsageEvent[],
  deltas: DailyDelta[],
  starts: GenerationStart[],
  updatedAt: string,
): string {
  const remembered = users.map((user) =>
    sqliteTuple([
      user.userId,
      user.clientOrgId,
      user.markupRatePpm === null ? null : intParam(user.markupRatePpm),
      user.userEmail,
      user.userName,
    ]),
  );
  const checkRemembered =
    remembered.length === 0
      ? []
      : [
          `WITH remembered (user_id, client_org_id, markup_rate_ppm, user_email, user_name) AS (VALUES ${remembered.join(',')}) ` +
            'INSERT INTO temp.ledger_check (stale_mappings) SELECT count(*) FROM remembered AS r WHERE NOT EXISTS ' +
            `(SELECT 1 ${userOrgFrom(sqliteLiteral(instanceId))} AND m.user_id = r.user_id AND m.client_org_id = r.client_org_id ` +
            'AND o.markup_rate_ppm = r.markup_rate_ppm AND m.user_email IS r.user_email AND m.user_name IS r.user_name)',
          'DELETE FROM temp.ledger_check',
        ];
  return [
    'CREATE TEMP TABLE IF NOT EXISTS ledger_check ' +
      '(stale_mappings INTEGER NOT NULL CONSTRAINT mappings_changed CHECK (stale_mappings = 0));\n',
    // IMMEDIATE: the write lock first, so a writer in another process (the CLI) is waited for
    // (busy_timeout) rather than met halfway with SQLITE_BUSY.
    'BEGIN IMMEDIATE;\n',
    ...checkRemembered.map((statement) => `${statement};\n`),
    ...sqliteValuesInserts('usage_events', USAGE_EVENT_COLUMNS, '', events.map(usageEventValues)),
    ...sqliteValuesInserts('usage_daily', DAILY_COLUMNS, DAILY_UPSERT, dailyRows(deltas, updatedAt)),
    ...sqliteValuesInserts('generation_starts', GENERATION_START_COLUMNS, '', starts.map(generationStartValues)),
    'COMMIT',
  ].join('');
}
