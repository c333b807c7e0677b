import type { Db } from '../../db/dialect.js';
import { intParam, toBool } from '../../db/dialect.js';
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

export function rowToUsageEvent(row: Row): UsageEvent {
  return {
    eventId: String(row.event_id),
    source: String(row.source) as EventSource,
    clientOrgId: String(row.client_org_id),
    userId: String(row.user_id),
    model: String(row.model),
    channel: String(row.channel),
    occurredAt: String(row.occurred_at),
    usageDay: String(row.usage_day),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cachedTokens: Number(row.cached_tokens),
    reasoningTokens: Number(row.reasoning_tokens),
    costStatus: String(row.cost_status) as CostStatus,
    providerCostNanoUsd: nullableBigInt(row.provider_cost_nano_usd),
    upstreamCostNanoUsd: nullableBigInt(row.upstream_cost_nano_usd),
    isByok: toBool(row.is_byok),
    rawCostNanoUsd: toBigInt(row.raw_cost_nano_usd),
    markupRatePpm: toBigInt(row.markup_rate_ppm),
    billedCostNanoUsd: toBigInt(row.billed_cost_nano_usd),
    generationId: text(row.generation_id),
    chatId: text(row.chat_id),
    messageId: text(row.message_id),
    externalUser: text(row.external_user),
    reason: text(row.reason),
    recordedAt: String(row.recorded_at),
  };
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

/** Inserts the events whose event_id is new; returns the ids that were inserted. */
export async function insertUsageEvents(db: Db, events: UsageEvent[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const rows: Row[] = await db('usage_events')
      .insert(events.slice(i, i + INSERT_CHUNK).map(usageEventToRow))
      .onConflict('event_id')
      .ignore()
      .returning('event_id');
    for (const row of rows) inserted.add(String(row.event_id));
  }
  return inserted;
}

type DailyKey = { clientOrgId: string; usageDay: string; userId: string; model: string };
type DailyTotals = {
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

const totalsColumns = {
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

/** Adds deltas to usage_daily; must run in the transaction that inserted their events. */
export async function addToDailyRollup(db: Db, deltas: DailyDelta[], updatedAt: string): Promise<void> {
  const rows = mergeDailyDeltas(deltas).map((delta) => {
    const row: Row = {
      client_org_id: delta.clientOrgId,
      usage_day: delta.usageDay,
      user_id: delta.userId,
      model: delta.model,
      updated_at: updatedAt,
    };
    for (const [field, column] of Object.entries(totalsColumns)) {
      row[column] = intParam(delta[field as keyof DailyTotals]);
    }
    return row;
  });
  const increments: Record<string, unknown> = { updated_at: db.raw('excluded.updated_at') };
  for (const column of Object.values(totalsColumns)) {
    increments[column] = db.raw('?? + excluded.??', [`usage_daily.${column}`, column]);
  }
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await db('usage_daily')
      .insert(rows.slice(i, i + INSERT_CHUNK))
      .onConflict(['client_org_id', 'usage_day', 'user_id', 'model'])
      .merge(increments);
  }
}

/** Records stream starts; returns the generation ids that were new. */
export async function insertGenerationStarts(db: Db, starts: GenerationStart[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let i = 0; i < starts.length; i += INSERT_CHUNK) {
    const rows: Row[] = await db('generation_starts')
      .insert(
        starts.slice(i, i + INSERT_CHUNK).map((start) => ({
          generation_id: start.generationId,
          event_id: start.eventId,
          client_org_id: start.clientOrgId,
          user_id: start.userId,
          model: start.model,
          channel: start.channel,
          chat_id: start.chatId,
          message_id: start.messageId,
          started_at: start.startedAt,
          recorded_at: start.recordedAt,
        })),
      )
      .onConflict('generation_id')
      .ignore()
      .returning('generation_id');
    for (const row of rows) inserted.add(String(row.generation_id));
  }
  return inserted;
}
