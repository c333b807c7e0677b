import type { Db } from '../../db/dialect.js';
import { intParam, sumText } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';
import { addDays } from '../../lib/time.js';
import { rowToUsageEvent, type GenerationStart, type UsageEvent } from '../ledger/ledger.store.js';

export type Reconciliation = {
  clientOrgId: string;
  kind: 'key_daily' | 'key_monthly' | 'activity';
  period: string;
  model: string;
  openRouterNanoUsd: bigint;
  ledgerNanoUsd: bigint;
  driftNanoUsd: bigint;
  openRouterRequests: number | null;
  ledgerRequests: number | null;
  checkedAt: string;
};

function rowToReconciliation(row: Record<string, unknown>): Reconciliation {
  return {
    clientOrgId: String(row.client_org_id),
    kind: String(row.kind) as Reconciliation['kind'],
    period: String(row.period),
    model: String(row.model),
    openRouterNanoUsd: toBigInt(row.openrouter_nano_usd),
    ledgerNanoUsd: toBigInt(row.ledger_nano_usd),
    driftNanoUsd: toBigInt(row.drift_nano_usd),
    openRouterRequests: row.openrouter_requests == null ? null : Number(row.openrouter_requests),
    ledgerRequests: row.ledger_requests == null ? null : Number(row.ledger_requests),
    checkedAt: String(row.checked_at),
  };
}

/** The latest comparison per (org, kind, period, model) replaces the previous one. */
export async function saveReconciliations(db: Db, rows: Reconciliation[]): Promise<void> {
  for (const r of rows) {
    const row = {
      client_org_id: r.clientOrgId,
      kind: r.kind,
      period: r.period,
      model: r.model,
      openrouter_nano_usd: intParam(r.openRouterNanoUsd),
      ledger_nano_usd: intParam(r.ledgerNanoUsd),
      drift_nano_usd: intParam(r.driftNanoUsd),
      openrouter_requests: r.openRouterRequests,
      ledger_requests: r.ledgerRequests,
      checked_at: r.checkedAt,
    };
    await db('reconciliations').insert(row).onConflict(['client_org_id', 'kind', 'period', 'model']).merge();
  }
}

export async function listReconciliations(
  db: Db,
  filter: { clientOrgIds?: string[]; fromPeriod?: string },
): Promise<Reconciliation[]> {
  const query = db('reconciliations').orderBy([
    { column: 'client_org_id' },
    { column: 'kind' },
    { column: 'period' },
    { column: 'model' },
  ]);
  if (filter.clientOrgIds) void query.whereIn('client_org_id', filter.clientOrgIds);
  if (filter.fromPeriod) void query.where('period', '>=', filter.fromPeriod);
  return (await query).map(rowToReconciliation);
}

/** Ledger raw cost and requests of an org between two UTC instants, optionally per model. */
export async function ledgerSpendByUtc(
  db: Db,
  clientOrgId: string,
  fromUtc: string,
  toUtcExclusive: string,
): Promise<Map<string, { rawNanoUsd: bigint; requests: number }>> {
  const rows: Record<string, unknown>[] = await db('usage_events')
    .select('model', sumText(db, 'raw_cost_nano_usd', 'raw'))
    .count({ requests: '*' })
    .where('client_org_id', clientOrgId)
    // The (client_org_id, usage_day) index narrows the read: an event's local day is within a day
    // of its UTC date in any time zone. occurred_at then draws the exact UTC bounds.
    .where('usage_day', '>=', addDays(fromUtc.slice(0, 10), -1))
    .where('usage_day', '<=', addDays(toUtcExclusive.slice(0, 10), 1))
    .where('occurred_at', '>=', fromUtc)
    .where('occurred_at', '<', toUtcExclusive)
    .groupBy('model');
  return new Map(
    rows.map((row) => [String(row.model), { rawNanoUsd: toBigInt(row.raw), requests: Number(row.requests) }]),
  );
}

/** Pending ledger events whose look-up is due, oldest first. */
export async function duePendingEvents(db: Db, now: string, limit: number): Promise<UsageEvent[]> {
  const rows = await db('usage_events as e')
    .leftJoin('cost_lookups as l', 'l.event_id', 'e.event_id')
    .where('e.cost_status', 'pending')
    .where((q) => void q.whereNull('l.next_attempt_at').orWhere('l.next_attempt_at', '<=', now))
    .orderBy('e.id')
    .limit(limit)
    .select('e.*');
  return rows.map(rowToUsageEvent);
}

export async function recordLookupMiss(
  db: Db,
  eventId: string,
  attempts: number,
  nextAttemptAt: string,
  error: string | null,
  now: string,
) {
  await db('cost_lookups')
    .insert({ event_id: eventId, attempts, next_attempt_at: nextAttemptAt, last_error: error, updated_at: now })
    .onConflict('event_id')
    .merge();
}

export async function lookupAttempts(db: Db, eventIds: string[]): Promise<Map<string, number>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db('cost_lookups').whereIn('event_id', eventIds).select('event_id', 'attempts');
  return new Map(rows.map((row: Record<string, unknown>) => [String(row.event_id), Number(row.attempts)]));
}

export async function clearLookup(db: Db, eventId: string): Promise<void> {
  await db('cost_lookups').where({ event_id: eventId }).delete();
}

/** A recorded stream start, as the reconciliation reads it back. */
export type OpenStart = Omit<GenerationStart, 'eventId' | 'recordedAt'>;

/** Stream starts older than the grace period that nothing has resolved yet. */
export async function unresolvedStarts(db: Db, startedBefore: string, limit: number): Promise<OpenStart[]> {
  const rows: Record<string, unknown>[] = await db('generation_starts')
    .whereNull('resolved_at')
    .where('started_at', '<', startedBefore)
    .orderBy('started_at')
    .limit(limit);
  return rows.map((row) => ({
    generationId: String(row.generation_id),
    clientOrgId: String(row.client_org_id),
    userId: String(row.user_id),
    model: String(row.model),
    channel: String(row.channel),
    chatId: row.chat_id == null ? null : String(row.chat_id),
    messageId: row.message_id == null ? null : String(row.message_id),
    startedAt: String(row.started_at),
  }));
}

/**
 * Whether the ledger already holds a completion for this generation: an event whose id is the
 * generation id (the usual case), or one that carries it beside an id of its own (the partial
 * index usage_events_generation_id_apart holds just those).
 */
export async function hasCompletionFor(db: Db, generationId: string): Promise<boolean> {
  if ((await db('usage_events').where('event_id', generationId).first('event_id')) !== undefined) return true;
  const apart = await db('usage_events')
    .where('generation_id', generationId)
    .whereRaw('generation_id <> event_id')
    .first('event_id');
  return apart !== undefined;
}

export async function resolveStart(db: Db, generationId: string, resolution: string, at: string): Promise<void> {
  await db('generation_starts')
    .where({ generation_id: generationId })
    .whereNull('resolved_at')
    .update({ resolved_at: at, resolution });
}
