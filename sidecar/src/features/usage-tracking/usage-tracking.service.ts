import { randomUUID } from 'node:crypto';
import type { Principal } from '../../http/auth.js';
import { AppError } from '../../http/errors.js';
import { sha256Hex } from '../../lib/crypto.js';
import { actorOf, recordAudit } from '../audit/audit.store.js';
import type { Ledger, LedgerInput, RecordStatus } from '../ledger/ledger.service.js';
import {
  ensureDefaultOrganization,
  requireVisibleOrganization,
  type OrgContext,
} from '../organizations/organizations.service.js';
import { findOrganizationByKeySha256 } from '../organizations/organizations.store.js';
import { findUserMappingByExternalUser } from '../user-mappings/user-mappings.store.js';
import { findUserMapping } from '../user-mappings/user-mappings.store.js';
import type { ManualRecordBody, WebhookBody } from './usage-tracking.schema.js';

const blankInput = {
  user: null,
  generationId: null,
  chatId: null,
  messageId: null,
  externalUser: null,
  reason: null,
  cachedTokens: 0,
  reasoningTokens: 0,
  upstreamCostNanoUsd: null,
  isByok: false,
} as const;

/** The named org; else the org the user's usage goes to; else this instance's default org. */
async function correctionOrgId(
  ctx: OrgContext,
  principal: Principal,
  body: ManualRecordBody,
  at: string,
): Promise<string> {
  if (body.client_org_id) return (await requireVisibleOrganization(ctx, principal, body.client_org_id)).id;
  const mapping = body.user_id ? await findUserMapping(ctx.db, ctx.instanceId, body.user_id) : undefined;
  if (mapping) return mapping.clientOrgId;
  const markupRatePpm = await ctx.defaultMarkupRatePpm();
  return (await ensureDefaultOrganization(ctx.db, { instanceId: ctx.instanceId, markupRatePpm, at })).id;
}

/** A correction is a new ledger event (source manual, with its reason), never an edit. */
export async function recordManualUsage(
  ctx: OrgContext & { ledger: Ledger },
  principal: Principal,
  body: ManualRecordBody,
): Promise<{ eventId: string; status: RecordStatus; clientOrgId: string }> {
  const at = ctx.now().toISOString();
  const clientOrgId = await correctionOrgId(ctx, principal, body, at);
  const eventId = body.event_id ?? `manual:${randomUUID()}`;
  const input: LedgerInput = {
    ...blankInput,
    kind: 'completion',
    eventId,
    source: 'manual',
    occurredAt: body.occurred_at ?? at,
    clientOrgId,
    model: body.model,
    channel: 'manual',
    reason: body.reason,
    user: body.user_id ? { id: body.user_id, email: null, name: null } : null,
    inputTokens: body.input_tokens ?? body.tokens ?? 0,
    outputTokens: body.output_tokens ?? 0,
    providerCostNanoUsd: body.cost,
  };
  const [status] = await ctx.ledger.record([input]);
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: 'usage.manual_record',
      targetType: 'usage_event',
      targetId: eventId,
      details: { client_org_id: clientOrgId, model: body.model, cost_nano_usd: body.cost, reason: body.reason, status },
      requestId: ctx.requestId,
    },
    at,
  );
  return { eventId, status: status ?? 'duplicate', clientOrgId };
}

/**
 * The seeds' webhook: authenticated by the org's own OpenRouter key (compared by hash), recorded
 * idempotently. With a generation id it is the same event as the filter's and counts once.
 */
export async function recordWebhookUsage(
  ctx: OrgContext & { ledger: Ledger },
  body: WebhookBody,
): Promise<{ eventId: string; status: RecordStatus; clientOrgId: string }> {
  const keySha256 = sha256Hex(body.api_key);
  const org = await findOrganizationByKeySha256(ctx.db, keySha256);
  if (!org) throw new AppError(401, 'unauthorized', 'api_key: no client organization has this OpenRouter key');
  const tokens = body.tokens_used ?? (body.prompt_tokens ?? 0) + (body.completion_tokens ?? 0);
  const inputTokens = body.prompt_tokens ?? tokens - (body.completion_tokens ?? 0);
  const eventId =
    body.generation_id ??
    `webhook:${sha256Hex(JSON.stringify([keySha256, body.model, tokens, body.cost.toString(), body.timestamp, body.external_user ?? null]))}`;
  const mapping = body.external_user
    ? await findUserMappingByExternalUser(ctx.db, org.id, body.external_user)
    : undefined;
  const [status] = await ctx.ledger.record([
    {
      ...blankInput,
      kind: 'completion',
      eventId,
      source: 'webhook',
      user: mapping ? { id: mapping.userId, email: null, name: null } : null,
      occurredAt: body.timestamp,
      clientOrgId: org.id,
      model: body.model,
      channel: 'webhook',
      generationId: body.generation_id ?? null,
      externalUser: body.external_user ?? null,
      inputTokens,
      outputTokens: body.completion_tokens ?? tokens - inputTokens,
      providerCostNanoUsd: body.cost,
    },
  ]);
  return { eventId, status: status ?? 'duplicate', clientOrgId: org.id };
}
