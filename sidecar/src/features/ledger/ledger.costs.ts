import type { Knex } from 'knex';
import { intParam } from '../../db/dialect.js';
import { applyMarkup } from '../../lib/money.js';
import { addToDailyRollup, rowToUsageEvent, type CostStatus, type UsageEvent } from './ledger.store.js';

/**
 * The ledger's one update: a `pending` event's cost, filled once when OpenRouter (or its price
 * list) tells us, with the same markup snapshot, and the difference added to usage_daily in the
 * same transaction. The `cost_status = 'pending'` guard makes a second fill a no-op, so
 * concurrent syncs (or sidecars) cannot add the cost twice.
 */
export async function fillPendingCost(
  db: Knex,
  eventId: string,
  rawCostNanoUsd: bigint,
  costStatus: Extract<CostStatus, 'reconciled' | 'estimated'>,
  at: string,
): Promise<UsageEvent | null> {
  return db.transaction(async (tx) => {
    const row = await tx('usage_events').where({ event_id: eventId, cost_status: 'pending' }).first();
    if (!row) return null;
    const event = rowToUsageEvent(row);
    const billedCostNanoUsd = applyMarkup(rawCostNanoUsd, event.markupRatePpm);
    const updated = await tx('usage_events')
      .where({ event_id: eventId, cost_status: 'pending' })
      .update({
        raw_cost_nano_usd: intParam(rawCostNanoUsd),
        billed_cost_nano_usd: intParam(billedCostNanoUsd),
        provider_cost_nano_usd: costStatus === 'reconciled' ? intParam(rawCostNanoUsd) : null,
        cost_status: costStatus,
      });
    if (updated !== 1) return null;
    await addToDailyRollup(
      tx,
      [
        {
          clientOrgId: event.clientOrgId,
          usageDay: event.usageDay,
          userId: event.userId,
          model: event.model,
          requests: 0n,
          inputTokens: 0n,
          outputTokens: 0n,
          cachedTokens: 0n,
          reasoningTokens: 0n,
          rawCostNanoUsd,
          billedCostNanoUsd,
          pendingCostRequests: -1n,
        },
      ],
      at,
    );
    return { ...event, rawCostNanoUsd, billedCostNanoUsd, costStatus };
  });
}
