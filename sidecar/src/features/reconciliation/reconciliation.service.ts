import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { decryptSecret, maskKey } from '../../lib/crypto.js';
import { parseScaled, usdToNano } from '../../lib/money.js';
import type { Ledger } from '../ledger/ledger.service.js';
import { fillPendingCost } from '../ledger/ledger.costs.js';
import type { UsageEvent } from '../ledger/ledger.store.js';
import { listOrganizations, type Organization } from '../organizations/organizations.store.js';
import {
  OpenRouterError,
  type Generation,
  type ModelPrice,
  type OpenRouterClient,
} from '../openrouter/openrouter.client.js';
import {
  clearLookup,
  duePendingEvents,
  hasCompletionFor,
  ledgerSpendByUtc,
  lookupAttempts,
  recordLookupMiss,
  resolveStart,
  saveReconciliations,
  unresolvedStarts,
  type Reconciliation,
} from './reconciliation.store.js';

/**
 * The seeds' "background sync", without their double counting: the filter's events are the
 * record; this only fills gaps (pending costs, aborted streams, estimates) through the ledger,
 * and compares OpenRouter's own figures with the ledger as reconciliation rows, never as usage.
 */

export type SyncDeps = {
  db: Knex;
  ledger: Ledger;
  openRouter: OpenRouterClient;
  config: Config;
  logger: Logger;
  now: () => Date;
  /** The management key in force (environment, else settings), as provisioning uses it. */
  provisioningKey: () => Promise<string | undefined>;
  /** Called with each event whose pending cost was filled, after its commit (the limit check's memory). */
  onCostFilled?: (events: UsageEvent[]) => void;
};

export type OrgSyncResult = {
  organization: string;
  client_org_id: string;
  synced_generations: number;
  estimated: number;
  aborted_streams_billed: number;
  still_pending: number;
  reconciliation_rows: number;
  status: 'success' | 'partial' | 'skipped' | 'error';
  error?: string;
};

export type SyncResult = { status: 'completed'; results: OrgSyncResult[]; total_organizations: number };

/** How long after a stream starts we wait for its completion before billing it as aborted. */
export const ABORT_GRACE_MS = 10 * 60_000;
/** After this long with /generation still 404, a started stream is given up as never charged. */
export const ABORT_GIVE_UP_MS = 48 * 3600_000;
const BATCH = 200;

/** 404s are retried with backoff: 30 s, 1 min, 2 min … then every 6 h (the slower queue). */
export function nextLookupDelayMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 6 * 3600_000);
}

/** USD per token (decimal text) × tokens, exact, rounded once to the nano-USD. */
export function estimateCostNano(
  price: ModelPrice | undefined,
  inputTokens: number,
  outputTokens: number,
): bigint | null {
  const prompt = price?.pricing?.prompt;
  const completion = price?.pricing?.completion;
  if (prompt === undefined || completion === undefined) return null;
  // Prices have up to ~12 decimals: work at 1e-18 and round to 1e-9 once.
  const p = parseScaled(prompt, 18);
  const c = parseScaled(completion, 18);
  if (p === undefined || c === undefined) return null;
  const atto = p * BigInt(inputTokens) + c * BigInt(outputTokens);
  return usdToNano(`${atto}e-18`) ?? null;
}

function generationCostNano(generation: Generation): bigint | null {
  if (generation.total_cost === null || generation.total_cost === undefined) return null;
  const fee = usdToNano(generation.total_cost);
  if (fee === undefined) return null;
  const upstream =
    generation.is_byok && generation.upstream_inference_cost != null
      ? usdToNano(generation.upstream_inference_cost)
      : 0n;
  return fee + (upstream ?? 0n);
}

/** Model ids in Open WebUI may carry a connection prefix ("openrouter.openai/gpt-4o"). */
function priceFor(prices: Map<string, ModelPrice>, model: string): ModelPrice | undefined {
  return prices.get(model) ?? prices.get(model.slice(model.indexOf('.') + 1));
}

export async function runOpenRouterSync(deps: SyncDeps, options: { daysBack: number }): Promise<SyncResult> {
  const orgs = (await listOrganizations(deps.db, deps.config.instanceId)).filter((org) => org.active || org.isDefault);
  let prices: Map<string, ModelPrice> | null = null;
  const results: OrgSyncResult[] = [];
  for (const org of orgs) {
    const key = keyFor(deps, org);
    const result: OrgSyncResult = {
      organization: org.name,
      client_org_id: org.id,
      synced_generations: 0,
      estimated: 0,
      aborted_streams_billed: 0,
      still_pending: 0,
      reconciliation_rows: 0,
      status: 'success',
    };
    results.push(result);
    if (!key) {
      result.status = 'skipped';
      result.error = 'no OpenRouter key for this organization (set one, or OPENROUTER_API_KEY)';
      continue;
    }
    try {
      prices ??= await loadPrices(deps, key);
      await fillPendingCosts(deps, org, key, prices, result);
      await billAbortedStreams(deps, org, key, result);
      result.reconciliation_rows = await reconcile(deps, org, key, options.daysBack);
    } catch (error) {
      result.status = result.synced_generations + result.estimated > 0 ? 'partial' : 'error';
      result.error = error instanceof Error ? error.message : String(error);
      deps.logger.error({ org: org.id, err: result.error }, `OpenRouter sync failed for ${org.name}`);
    }
  }
  return { status: 'completed', results, total_organizations: orgs.length };
}

function keyFor(deps: SyncDeps, org: Organization): string | null {
  if (org.openRouterKeyEncrypted) return decryptSecret(org.openRouterKeyEncrypted, deps.config.encryptionKey);
  return deps.config.openRouter.apiKey ?? null;
}

async function loadPrices(deps: SyncDeps, key: string): Promise<Map<string, ModelPrice>> {
  try {
    return new Map((await deps.openRouter.listModels(key)).map((model) => [model.id, model]));
  } catch (error) {
    deps.logger.warn({ err: String(error) }, 'OpenRouter model prices unavailable; estimates wait');
    return new Map();
  }
}

async function fillPendingCosts(
  deps: SyncDeps,
  org: Organization,
  key: string,
  prices: Map<string, ModelPrice>,
  result: OrgSyncResult,
): Promise<void> {
  const now = deps.now();
  const fill: typeof fillPendingCost = async (...args) => {
    const filled = await fillPendingCost(...args);
    if (filled) deps.onCostFilled?.([filled]);
    return filled;
  };
  const due = (await duePendingEvents(deps.db, now.toISOString(), BATCH)).filter((e) => e.clientOrgId === org.id);
  const attempts = await lookupAttempts(
    deps.db,
    due.map((e) => e.eventId),
  );
  for (const event of due) {
    if (!event.generationId) {
      const estimate = estimateCostNano(priceFor(prices, event.model), event.inputTokens, event.outputTokens);
      if (estimate !== null && (await fill(deps.db, event.eventId, estimate, 'estimated', now.toISOString())))
        result.estimated += 1;
      else result.still_pending += 1;
      continue;
    }
    const generation = await lookUp(deps, key, event);
    const cost = generation ? generationCostNano(generation) : null;
    if (cost !== null) {
      if (await fill(deps.db, event.eventId, cost, 'reconciled', now.toISOString())) result.synced_generations += 1;
      await clearLookup(deps.db, event.eventId);
      continue;
    }
    const tries = (attempts.get(event.eventId) ?? 0) + 1;
    const next = new Date(now.getTime() + nextLookupDelayMs(tries)).toISOString();
    await recordLookupMiss(
      deps.db,
      event.eventId,
      tries,
      next,
      generation ? 'no cost yet' : 'not found (404)',
      now.toISOString(),
    );
    result.still_pending += 1;
  }
}

async function lookUp(
  deps: SyncDeps,
  key: string,
  event: Pick<UsageEvent, 'generationId'>,
): Promise<Generation | null> {
  try {
    return await deps.openRouter.getGeneration(key, event.generationId!);
  } catch (error) {
    if (error instanceof OpenRouterError && (error.status === 401 || error.status === 402)) throw error;
    deps.logger.warn(
      { key: maskKey(key), generation: event.generationId, err: String(error) },
      'generation look-up failed',
    );
    return null;
  }
}

/**
 * A stream the user aborted never reaches outlet, but OpenRouter charged it. After the grace
 * period, a start with no completion is billed once, as its own event whose id IS the
 * generation id, so a late completion from the filter is a duplicate, never a second charge.
 */
async function billAbortedStreams(deps: SyncDeps, org: Organization, key: string, result: OrgSyncResult) {
  const now = deps.now();
  const starts = (
    await unresolvedStarts(deps.db, new Date(now.getTime() - ABORT_GRACE_MS).toISOString(), BATCH)
  ).filter((start) => start.clientOrgId === org.id);
  for (const start of starts) {
    if (await hasCompletionFor(deps.db, start.generationId)) {
      await resolveStart(deps.db, start.generationId, 'completed', now.toISOString());
      continue;
    }
    const generation = await lookUp(deps, key, start);
    const cost = generation ? generationCostNano(generation) : null;
    if (!generation || cost === null) {
      if (now.getTime() - Date.parse(start.startedAt) > ABORT_GIVE_UP_MS) {
        await resolveStart(deps.db, start.generationId, 'not_found', now.toISOString());
      }
      continue;
    }
    const [status] = await deps.ledger.record([
      {
        kind: 'completion',
        eventId: start.generationId,
        source: 'sync',
        occurredAt: start.startedAt,
        user: { id: start.userId, email: null, name: null },
        clientOrgId: start.clientOrgId,
        model: start.model,
        channel: start.channel,
        generationId: start.generationId,
        chatId: start.chatId,
        messageId: start.messageId,
        externalUser: generation.external_user ?? null,
        reason: 'stream aborted before completion; billed from OpenRouter /generation',
        inputTokens: generation.native_tokens_prompt ?? generation.tokens_prompt ?? 0,
        outputTokens: generation.native_tokens_completion ?? generation.tokens_completion ?? 0,
        cachedTokens: generation.native_tokens_cached ?? 0,
        reasoningTokens: generation.native_tokens_reasoning ?? 0,
        providerCostNanoUsd: cost,
        upstreamCostNanoUsd: null,
        isByok: false,
      },
    ]);
    if (status === 'recorded') result.aborted_streams_billed += 1;
    await resolveStart(deps.db, start.generationId, status === 'recorded' ? 'billed' : 'completed', now.toISOString());
  }
}

/** Compares OpenRouter's key usage (UTC windows) and activity with the ledger; stores the drift. */
async function reconcile(deps: SyncDeps, org: Organization, key: string, daysBack: number): Promise<number> {
  if (!org.openRouterKeyEncrypted) return 0; // a shared global key cannot be split per org
  const now = deps.now();
  const checkedAt = now.toISOString();
  const utcDay = checkedAt.slice(0, 10);
  const utcMonth = checkedAt.slice(0, 7);
  const dayStart = `${utcDay}T00:00:00.000Z`;
  const monthStart = `${utcMonth}-01T00:00:00.000Z`;
  const rows: Reconciliation[] = [];
  const info = await deps.openRouter.getKey(key);
  const total = (spend: Map<string, { rawNanoUsd: bigint; requests: number }>) =>
    [...spend.values()].reduce((sum, s) => ({ raw: sum.raw + s.rawNanoUsd, requests: sum.requests + s.requests }), {
      raw: 0n,
      requests: 0,
    });
  const compare = (
    kind: Reconciliation['kind'],
    period: string,
    model: string,
    openRouter: bigint,
    ledger: { raw: bigint; requests: number },
    openRouterRequests: number | null,
  ) =>
    rows.push({
      clientOrgId: org.id,
      kind,
      period,
      model,
      openRouterNanoUsd: openRouter,
      ledgerNanoUsd: ledger.raw,
      driftNanoUsd: openRouter - ledger.raw,
      openRouterRequests,
      ledgerRequests: ledger.requests,
      checkedAt,
    });
  const nextDay = new Date(Date.parse(dayStart) + 86_400_000).toISOString();
  const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
  if (info.usage_daily != null) {
    compare(
      'key_daily',
      utcDay,
      '',
      usdToNano(info.usage_daily) ?? 0n,
      total(await ledgerSpendByUtc(deps.db, org.id, dayStart, nextDay)),
      null,
    );
  }
  if (info.usage_monthly != null) {
    compare(
      'key_monthly',
      utcMonth,
      '',
      usdToNano(info.usage_monthly) ?? 0n,
      total(await ledgerSpendByUtc(deps.db, org.id, monthStart, nextMonth)),
      null,
    );
  }
  const provisioningKey = await deps.provisioningKey();
  if (provisioningKey && org.openRouterKeyHash) {
    const activity = await deps.openRouter.getActivity(provisioningKey, { apiKeyHash: org.openRouterKeyHash });
    const oldest = new Date(now.getTime() - daysBack * 86_400_000).toISOString().slice(0, 10);
    const byDay = new Map<string, typeof activity>();
    for (const row of activity) {
      if (row.date.slice(0, 10) < oldest) continue;
      byDay.set(row.date.slice(0, 10), [...(byDay.get(row.date.slice(0, 10)) ?? []), row]);
    }
    for (const [day, dayRows] of byDay) {
      const from = `${day}T00:00:00.000Z`;
      const spend = await ledgerSpendByUtc(
        deps.db,
        org.id,
        from,
        new Date(Date.parse(from) + 86_400_000).toISOString(),
      );
      for (const row of dayRows) {
        const ledger = spend.get(row.model) ?? [...spend.entries()].find(([m]) => m.endsWith(row.model))?.[1];
        compare(
          'activity',
          day,
          row.model,
          usdToNano(row.usage ?? 0) ?? 0n,
          { raw: ledger?.rawNanoUsd ?? 0n, requests: ledger?.requests ?? 0 },
          row.requests,
        );
      }
    }
  }
  await saveReconciliations(deps.db, rows);
  return rows.length;
}

export type OpenRouterSync = {
  /** Runs the sync now, or joins the run in progress: never two at once. */
  run(daysBack: number): Promise<SyncResult>;
};

export function createOpenRouterSync(deps: SyncDeps): OpenRouterSync {
  let inProgress: Promise<SyncResult> | null = null;
  return {
    run(daysBack) {
      inProgress ??= runOpenRouterSync(deps, { daysBack }).finally(() => {
        inProgress = null;
      });
      return inProgress;
    },
  };
}
