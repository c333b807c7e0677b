import { DateTime } from 'luxon';
import { nanoToUsdNumber, nanoToUsdString } from '../../lib/money.js';
import type { LimitedOrg } from './limits.store.js';

/** The answer the filter's inlet gets: allowed, or blocked by the org's or the user's limit. */
export type LimitDecision = {
  allowed: boolean;
  scope: 'org' | 'user' | null;
  message: string | null;
  limit_usd: number | null;
  used_usd: number | null;
  resets_at: string | null;
};

export const allowedDecision: Readonly<LimitDecision> = Object.freeze({
  allowed: true,
  scope: null,
  message: null,
  limit_usd: null,
  used_usd: null,
  resets_at: null,
});

/** A billing month: local to the billing time zone, [start, end) as epoch milliseconds. */
export type BillingMonth = {
  /** YYYY-MM */
  period: string;
  startMs: number;
  endMs: number;
  /** When the next month starts, local ISO with offset: 2026-04-01T00:00:00.000+02:00 */
  resetsAt: string;
};

export function billingMonthAt(zone: string, at: Date): BillingMonth {
  const start = DateTime.fromJSDate(at).setZone(zone).startOf('month');
  const end = start.plus({ months: 1 });
  return {
    period: start.toFormat('yyyy-MM'),
    startMs: start.toMillis(),
    endMs: end.toMillis(),
    resetsAt: end.toISO() ?? '',
  };
}

/**
 * Whether a user (and their org) may spend more this month, in billed USD. The org's limit is
 * looked at first; a limit is reached when the usage equals it.
 */
export function decideLimits(input: {
  org: LimitedOrg;
  orgUsedNanoUsd: bigint;
  userLimitNanoUsd: bigint | null;
  userUsedNanoUsd: bigint;
  resetsAt: string;
}): Readonly<LimitDecision> {
  const orgLimit = input.org.monthlyLimitNanoUsd;
  if (orgLimit !== null && input.orgUsedNanoUsd >= orgLimit) {
    return blocked('org', `Your organization (${input.org.name})`, orgLimit, input.orgUsedNanoUsd, input.resetsAt);
  }
  const userLimit = input.userLimitNanoUsd;
  if (userLimit !== null && input.userUsedNanoUsd >= userLimit) {
    return blocked('user', 'You', userLimit, input.userUsedNanoUsd, input.resetsAt);
  }
  return allowedDecision;
}

function blocked(scope: 'org' | 'user', who: string, limit: bigint, used: bigint, resetsAt: string): LimitDecision {
  return {
    allowed: false,
    scope,
    message: `${who} reached the monthly usage limit of $${nanoToUsdString(limit)}. It resets on ${resetsAt.slice(0, 10)}.`,
    limit_usd: nanoToUsdNumber(limit),
    used_usd: nanoToUsdNumber(used),
    resets_at: resetsAt,
  };
}
