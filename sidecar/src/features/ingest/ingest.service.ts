import type { LedgerInput } from '../ledger/ledger.service.js';
import type { IngestEvent } from './ingest.schema.js';

/** The filter's event, in the ledger's terms. */
export function ledgerInputOf(event: IngestEvent): LedgerInput {
  const usage = event.usage;
  return {
    kind: event.kind,
    eventId: event.event_id,
    source: 'filter',
    occurredAt: new Date(event.occurred_at).toISOString(),
    user: { id: event.user.id, email: event.user.email ?? null, name: event.user.name ?? null },
    clientOrgId: null,
    model: event.model,
    channel: event.channel,
    generationId: event.generation_id ?? null,
    chatId: event.chat_id ?? null,
    messageId: event.message_id ?? null,
    externalUser: null,
    reason: null,
    inputTokens: usage?.input_tokens ?? 0,
    outputTokens: usage?.output_tokens ?? 0,
    cachedTokens: usage?.cached_tokens ?? 0,
    reasoningTokens: usage?.reasoning_tokens ?? 0,
    providerCostNanoUsd: usage?.cost_usd ?? null,
    upstreamCostNanoUsd: usage?.upstream_cost_usd ?? null,
    isByok: usage?.is_byok ?? false,
  };
}
