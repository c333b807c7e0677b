import type { Knex } from 'knex';
import type { Db } from '../../db/dialect.js';
import { isPostgres } from '../../db/dialect.js';
import type { LedgerInput } from './ledger.service.js';

/**
 * The ledger's degraded write path (DESIGN §2): while migrations cannot run, usage is stored
 * here — the caller's input as received, keyed like the ledger keys it — and rolled up through
 * the normal write path once the schema is current.
 *
 * It needs no migrated table at all: `ledger_backlog` is created with CREATE TABLE IF NOT
 * EXISTS (a name no other migration creates, so the baseline never collides with it on a
 * brand-new database whose first migration another sidecar holds the lock for). The migration
 * 20261123050000_ledger_backlog creates the same table when it is missing. Rows carry the
 * sidecar's instance: org resolution (user mappings) is per instance, so each sidecar rolls up
 * only its own rows.
 */

export type BacklogRow = { eventKey: string; input: LedgerInput };

export const BACKLOG_TABLE = 'ledger_backlog';

/** The key the ledger deduplicates an input by: a completion by event id, a stream start by generation. */
export function eventKeyOf(input: LedgerInput): string {
  return input.kind === 'completion' ? `completion:${input.eventId}` : `start:${input.generationId ?? input.eventId}`;
}

/** Creates the backlog table if missing; concurrent creators (other sidecars) are tolerated. */
export async function ensureBacklogTable(db: Db): Promise<void> {
  try {
    await db.raw(
      `CREATE TABLE IF NOT EXISTS ${BACKLOG_TABLE} (` +
        'event_key TEXT PRIMARY KEY, instance_id TEXT NOT NULL, input TEXT NOT NULL, received_at TEXT NOT NULL)',
    );
    await db.raw(
      `CREATE INDEX IF NOT EXISTS ${BACKLOG_TABLE}_instance_received ON ${BACKLOG_TABLE} (instance_id, received_at)`,
    );
  } catch (error) {
    // PostgreSQL may report a unique violation in its catalogue when two create at once.
    if (!(await db.schema.hasTable(BACKLOG_TABLE))) throw error;
  }
}

/** Bigints as decimal text, so the JSON round trip is exact. */
function inputToJson(input: LedgerInput): string {
  return JSON.stringify({
    ...input,
    providerCostNanoUsd: input.providerCostNanoUsd?.toString() ?? null,
    upstreamCostNanoUsd: input.upstreamCostNanoUsd?.toString() ?? null,
  });
}

function inputFromJson(text: string): LedgerInput {
  const parsed = JSON.parse(text) as Omit<LedgerInput, 'providerCostNanoUsd' | 'upstreamCostNanoUsd'> & {
    providerCostNanoUsd: string | null;
    upstreamCostNanoUsd: string | null;
  };
  return {
    ...parsed,
    providerCostNanoUsd: parsed.providerCostNanoUsd === null ? null : BigInt(parsed.providerCostNanoUsd),
    upstreamCostNanoUsd: parsed.upstreamCostNanoUsd === null ? null : BigInt(parsed.upstreamCostNanoUsd),
  };
}

type Row = Record<string, unknown>;
function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as Row[]) : [];
}

const CHUNK = 400;

/**
 * Of the given keys, those the ledger already holds (written before the schema fell behind):
 * such inputs are duplicates and are not backlogged. Tables that do not exist yet hold nothing.
 */
export async function findRecordedKeys(db: Db, keys: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const lookups = [
    { prefix: 'completion:', table: 'usage_events', column: 'event_id' },
    { prefix: 'start:', table: 'generation_starts', column: 'generation_id' },
  ];
  for (const { prefix, table, column } of lookups) {
    const ids = keys.filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
    if (ids.length === 0 || !(await db.schema.hasTable(table))) continue;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows: Row[] = await db(table)
        .whereIn(column, ids.slice(i, i + CHUNK))
        .select(column);
      for (const row of rows) found.add(`${prefix}${String(row[column])}`);
    }
  }
  return found;
}

/** Inserts backlog rows whose key is new; returns the keys inserted. */
export async function insertBacklog(
  db: Db,
  instanceId: string,
  rows: BacklogRow[],
  receivedAt: string,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const result = await db.raw(
      `INSERT INTO ${BACKLOG_TABLE} (event_key, instance_id, input, received_at) VALUES ` +
        chunk.map(() => '(?, ?, ?, ?)').join(', ') +
        ' ON CONFLICT (event_key) DO NOTHING RETURNING event_key',
      chunk.flatMap((row) => [row.eventKey, instanceId, inputToJson(row.input), receivedAt]),
    );
    for (const row of rowsOf(result)) inserted.add(String(row.event_key));
  }
  return inserted;
}

/**
 * Takes (deletes and returns) the instance's oldest backlog rows, inside the caller's
 * transaction: they are gone only if that transaction commits the rollup too. On PostgreSQL
 * rows another process is taking are skipped, so no row is taken twice.
 */
export async function takeBacklog(
  tx: Knex.Transaction,
  instanceId: string,
  limit: number,
  skip: ReadonlySet<string>,
): Promise<BacklogRow[]> {
  const query = tx(BACKLOG_TABLE)
    .where({ instance_id: instanceId })
    .orderBy([
      { column: 'received_at', order: 'asc' },
      { column: 'event_key', order: 'asc' },
    ])
    .limit(limit)
    .select('event_key', 'input');
  if (skip.size > 0) void query.whereNotIn('event_key', [...skip]);
  if (isPostgres(tx)) void query.forUpdate().skipLocked();
  const rows: Row[] = await query;
  if (rows.length === 0) return [];
  const taken = new Set<string>();
  const keys = rows.map((row) => String(row.event_key));
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    // Raw: Knex's SQLite dialect drops RETURNING from a delete.
    const deleted = await tx.raw(
      `DELETE FROM ${BACKLOG_TABLE} WHERE event_key IN (${chunk.map(() => '?').join(', ')}) RETURNING event_key`,
      chunk,
    );
    for (const row of rowsOf(deleted)) taken.add(String(row.event_key));
  }
  return rows
    .filter((row) => taken.has(String(row.event_key)))
    .map((row) => ({ eventKey: String(row.event_key), input: inputFromJson(String(row.input)) }));
}

/** How many of the instance's events wait in the backlog (0 when the table does not exist). */
export async function countBacklog(db: Db, instanceId?: string): Promise<number> {
  if (!(await db.schema.hasTable(BACKLOG_TABLE))) return 0;
  const query = db(BACKLOG_TABLE);
  if (instanceId !== undefined) void query.where({ instance_id: instanceId });
  const [row] = (await query.count({ n: '*' })) as Row[];
  return Number(row?.n ?? 0);
}
