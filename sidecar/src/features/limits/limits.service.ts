import type { Db } from '../../db/dialect.js';
import { nanoToUsdNumber, nanoToUsdString } from '../../lib/money.js';
import { monthDays, monthOf, nextMonthStart, today } from '../../lib/time.js';
import { defaultOrganizationId } from '../organizations/organizations.service.js';
import { findOrganization } from '../organizations/organizations.store.js';
import { totalUsage } from '../usage/usage.store.js';
import { findUserMapping } from '../user-mappings/user-mappings.store.js';

export type LimitDecision = {
  allowed: boolean;
  scope: 'org' | 'user' | null;
  message: string | null;
  limit_usd: number | null;
  used_usd: number | null;
  resets_at: string | null;
};

const allowed: LimitDecision = {
  allowed: true,
  scope: null,
  message: null,
  limit_usd: null,
  used_usd: null,
  resets_at: null,
};

/** Whether a user (and their org) may spend more this month, in billed USD. */
export async function checkLimits(
  db: Db,
  options: { instanceId: string; timeZone: string; userId: string; now: Date },
): Promise<LimitDecision> {
  const mapping = await findUserMapping(db, options.instanceId, options.userId);
  const org = await findOrganization(db, mapping?.clientOrgId ?? defaultOrganizationId(options.instanceId));
  const day = today(options.timeZone, options.now);
  const period = monthDays(monthOf(day));
  const resetsAt = nextMonthStart(day, options.timeZone);
  const checks: { scope: 'org' | 'user'; limit: bigint | null; userId?: string }[] = [
    { scope: 'org', limit: org?.monthlyLimitNanoUsd ?? null },
    { scope: 'user', limit: mapping?.monthlyLimitNanoUsd ?? null, userId: options.userId },
  ];
  for (const check of checks) {
    if (check.limit === null || !org) continue;
    const used = (await totalUsage(db, { clientOrgIds: [org.id], ...period, userId: check.userId })).billedCostNanoUsd;
    if (used < check.limit) continue;
    const who = check.scope === 'org' ? `Your organization (${org.name})` : 'You';
    return {
      allowed: false,
      scope: check.scope,
      message: `${who} reached the monthly usage limit of $${nanoToUsdString(check.limit)}. It resets on ${resetsAt.slice(0, 10)}.`,
      limit_usd: nanoToUsdNumber(check.limit),
      used_usd: nanoToUsdNumber(used),
      resets_at: resetsAt,
    };
  }
  return allowed;
}
