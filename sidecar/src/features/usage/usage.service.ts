import type { Principal } from '../../http/auth.js';
import { badRequest, notFound } from '../../http/errors.js';
import {
  formatMarkupRate,
  integerText,
  nanoToUsdNumber,
  nanoValueToUsdNumber,
  divRound,
  toBigInt,
} from '../../lib/money.js';
import { addDays, daysBetween, monthDays, monthOf, today } from '../../lib/time.js';
import type { DisplayRate, ExchangeRates, StatutoryRate } from '../exchange-rates/exchange-rates.service.js';
import { convertToPln, type ExchangeRate } from '../exchange-rates/pln.js';
import { toBool } from '../../db/dialect.js';
import { USAGE_EVENT_COLUMN_INDEX, type UsageEventColumn } from '../ledger/ledger.store.js';
import {
  ownOrganization,
  requireVisibleOrganization,
  visibleOrganizations,
  type OrgContext,
} from '../organizations/organizations.service.js';
import type { Organization } from '../organizations/organizations.store.js';
import { findUserMapping, findUserMappings } from '../user-mappings/user-mappings.store.js';
import type { PeriodQuery } from './usage.schema.js';
import {
  STATEMENT_RATE_RULE,
  displayPln,
  displayRateInfo,
  plnAmount,
  statementRateMissing,
  statementRateView,
} from './usage.pln.js';
import { aggregateUsage, emptyTotals, totalUsage, type LedgerValues, type Totals } from './usage.store.js';

export type UsageContext = OrgContext & {
  timeZone: string;
  /** NBP rates: one display rate per response, table A per day for statements. */
  exchangeRates: Pick<ExchangeRates, 'displayRate' | 'statutoryRates'>;
};

type Period = { from: string; to: string };

/** Costs shown to clients are billed (marked-up) cost; raw cost and profit are the operator's. */
export function usdTotalsView(totals: Totals, principal: Principal) {
  const tokens = totals.inputTokens + totals.outputTokens;
  return {
    requests: Number(totals.requests),
    input_tokens: Number(totals.inputTokens),
    output_tokens: Number(totals.outputTokens),
    cached_tokens: Number(totals.cachedTokens),
    reasoning_tokens: Number(totals.reasoningTokens),
    tokens: Number(tokens),
    total_tokens: Number(tokens),
    cost: nanoToUsdNumber(totals.billedCostNanoUsd),
    cost_nano_usd: totals.billedCostNanoUsd.toString(),
    pending_cost_requests: Number(totals.pendingCostRequests),
    ...(principal.kind === 'operator'
      ? {
          raw_cost: nanoToUsdNumber(totals.rawCostNanoUsd),
          raw_cost_nano_usd: totals.rawCostNanoUsd.toString(),
          profit: nanoToUsdNumber(totals.billedCostNanoUsd - totals.rawCostNanoUsd),
          profit_nano_usd: (totals.billedCostNanoUsd - totals.rawCostNanoUsd).toString(),
        }
      : {}),
  };
}

/** The USD figures and, beside the billed cost, PLN at the display rate (null fields without one). */
export function totalsView(totals: Totals, principal: Principal, rate: ExchangeRate | null) {
  return { ...usdTotalsView(totals, principal), ...displayPln(totals.billedCostNanoUsd, rate) };
}

/** Adds totals up; `lastUpdated` is the latest of them. */
export function sumTotals(list: Iterable<Totals>): Totals {
  const total = emptyTotals();
  for (const totals of list) {
    for (const key of Object.keys(total) as (keyof Totals)[]) {
      if (key === 'lastUpdated') {
        if (totals.lastUpdated && (!total.lastUpdated || totals.lastUpdated > total.lastUpdated)) {
          total.lastUpdated = totals.lastUpdated;
        }
      } else total[key] += totals[key];
    }
  }
  return total;
}

export function currentPeriod(ctx: UsageContext, query: PeriodQuery): Period {
  if (query.month) return monthDays(query.month);
  const now = today(ctx.timeZone, ctx.now());
  const month = monthDays(monthOf(now));
  return { from: query.from ?? month.from, to: query.to ?? (query.from ? now : month.to) };
}

/** The orgs a report covers: one named org the caller may see, or all the caller may see. */
export async function reportScope(
  ctx: OrgContext,
  principal: Principal,
  clientId: string | undefined,
): Promise<Organization[]> {
  if (clientId !== undefined) return [await requireVisibleOrganization(ctx, principal, clientId)];
  return visibleOrganizations(ctx, principal);
}

/** The org a summary is about: the named one, else the caller's own. */
async function summaryOrg(ctx: UsageContext, principal: Principal, clientId: string | undefined) {
  if (clientId !== undefined) return requireVisibleOrganization(ctx, principal, clientId);
  if (principal.kind === 'operator') throw badRequest('client_id: is required for the operator');
  const own = await ownOrganization(ctx, principal);
  if (!own) throw notFound('you are not in any client organization yet');
  return own;
}

/** The seeds' dashboard figures: today (live), this month, and the last 30 days. */
export async function usageSummary(ctx: UsageContext, principal: Principal, clientId: string | undefined) {
  const { rate: _rate, ...summary } = await summaryWithRate(ctx, principal, await summaryOrg(ctx, principal, clientId));
  return summary;
}

/**
 * "My usage": the caller's org summary plus their own share of it (`stats.me`), today and this
 * month, at the same display rate. Only the caller's usage inside this org counts, so `me` is
 * always part of the org's figures (usage left in an org the user has moved out of stays there,
 * as in every report). Limit figures are the user's own, from their mapping.
 */
export async function myOrganizationUsage(ctx: UsageContext, principal: Principal) {
  const { rate, ...summary } = await summaryWithRate(ctx, principal, await summaryOrg(ctx, principal, undefined));
  if (principal.kind !== 'admin' && principal.kind !== 'user') throw badRequest('only Open WebUI users have own usage');
  const day = summary.stats.today.date;
  const month = monthDays(monthOf(day));
  const daily = await aggregateUsage(
    ctx.db,
    { clientOrgIds: [summary.client_org_id], from: month.from, to: day, userId: principal.userId },
    ['usage_day'],
  );
  const todayTotals = daily.find((row) => row.keys.usage_day === day)?.totals ?? emptyTotals();
  const monthTotals = sumTotals(daily.map((row) => row.totals));
  const mapping = await findUserMapping(ctx.db, ctx.instanceId, principal.userId);
  const limitNano = mapping?.clientOrgId === summary.client_org_id ? mapping.monthlyLimitNanoUsd : null;
  return {
    ...summary,
    stats: {
      ...summary.stats,
      me: {
        user_id: principal.userId,
        today: { date: day, ...totalsView(todayTotals, principal, rate), last_updated: todayTotals.lastUpdated },
        this_month: {
          month: monthOf(day),
          ...totalsView(monthTotals, principal, rate),
          monthly_limit_usd: limitNano === null ? null : nanoToUsdNumber(limitNano),
          limit_used_pct: limitUsedPct(monthTotals.billedCostNanoUsd, limitNano),
          last_updated: monthTotals.lastUpdated,
        },
      },
    },
  };
}

async function summaryWithRate(ctx: UsageContext, principal: Principal, org: Organization) {
  const day = today(ctx.timeZone, ctx.now());
  const month = monthDays(monthOf(day));
  const historyFrom = addDays(day, -29);
  const daily = await aggregateUsage(
    ctx.db,
    { clientOrgIds: [org.id], from: historyFrom < month.from ? historyFrom : month.from, to: day },
    ['usage_day'],
  );
  const byDay = new Map(daily.map((row) => [row.keys.usage_day!, row.totals]));
  const sum = (from: string, to: string) =>
    sumTotals([...byDay].filter(([usageDay]) => usageDay >= from && usageDay <= to).map(([, totals]) => totals));
  const rate = await ctx.exchangeRates.displayRate();
  const todayTotals = byDay.get(day) ?? emptyTotals();
  const monthTotals = sum(month.from, day);
  const daysElapsed = daysBetween(month.from, day);
  const daysActive = [...byDay.entries()].filter(([d, t]) => d >= month.from && t.requests > 0n).length;
  const averageNano = divRound(monthTotals.billedCostNanoUsd, BigInt(daysElapsed));
  const averagePln = plnAmount(rate ? convertToPln(averageNano, rate.usdPln) : null);
  const history = Array.from({ length: 30 }, (_, i) => addDays(historyFrom, i)).map((d) => ({
    date: d,
    ...totalsView(byDay.get(d) ?? emptyTotals(), principal, rate),
  }));
  return {
    rate,
    success: true,
    client_org_id: org.id,
    client_name: org.name,
    currency: 'USD',
    stats: {
      today: { date: day, ...totalsView(todayTotals, principal, rate), last_updated: todayTotals.lastUpdated },
      this_month: {
        month: monthOf(day),
        ...totalsView(monthTotals, principal, rate),
        days_active: daysActive,
        days_elapsed: daysElapsed,
        daily_average_cost: nanoToUsdNumber(averageNano),
        daily_average_cost_nano_usd: averageNano.toString(),
        daily_average_cost_pln: averagePln.cost_pln,
        daily_average_cost_pln_grosz: averagePln.cost_pln_grosz,
        monthly_limit_usd: org.monthlyLimitNanoUsd === null ? null : nanoToUsdNumber(org.monthlyLimitNanoUsd),
        limit_used_pct: limitUsedPct(monthTotals.billedCostNanoUsd, org.monthlyLimitNanoUsd),
        last_updated: monthTotals.lastUpdated,
      },
      daily_history: history,
      exchange_rate_info: displayRateInfo(rate),
    },
  };
}

/** Percent of a limit used, to two decimals; null without a limit. */
export function limitUsedPct(usedNano: bigint, limitNano: bigint | null): number | null {
  if (limitNano === null) return null;
  if (limitNano === 0n) return usedNano > 0n ? 100 : 0;
  return Number(divRound(usedNano * 10_000n, limitNano)) / 100;
}

/** Today's usage per org the caller may see (the live view). */
export async function usageToday(ctx: UsageContext, principal: Principal, clientId: string | undefined) {
  const orgs = await reportScope(ctx, principal, clientId);
  const day = today(ctx.timeZone, ctx.now());
  const rows = await aggregateUsage(ctx.db, { clientOrgIds: orgs.map((o) => o.id), from: day, to: day }, [
    'client_org_id',
  ]);
  const byOrg = new Map(rows.map((row) => [row.keys.client_org_id!, row.totals]));
  const total = await totalUsage(ctx.db, { clientOrgIds: orgs.map((o) => o.id), from: day, to: day });
  const rate = await ctx.exchangeRates.displayRate();
  return {
    success: true,
    date: day,
    clients: orgs.map((org) => {
      const totals = byOrg.get(org.id) ?? emptyTotals();
      return {
        client_org_id: org.id,
        client_name: org.name,
        ...totalsView(totals, principal, rate),
        last_updated: totals.lastUpdated,
      };
    }),
    totals: { ...totalsView(total, principal, rate), last_updated: total.lastUpdated },
    exchange_rate_info: displayRateInfo(rate),
  };
}

export type StatementDay = {
  date: string;
  totals: Totals;
  /** Table A mid of the last NBP business day before `date`; null when none is known. */
  rate: StatutoryRate | null;
  /** Billed cost of the day at `rate`, rounded once per day; null without a rate. */
  plnGrosz: bigint | null;
};

export type StatementOrg = {
  org: Organization;
  totals: Totals;
  /** Days with usage, in order. */
  days: StatementDay[];
  /** Sum of the day lines' grosz; null when any day has no rate. */
  plnGrosz: bigint | null;
  daysWithoutRate: string[];
};

export type BillingStatement = {
  month: string;
  period: Period;
  displayRate: DisplayRate | null;
  orgs: StatementOrg[];
  totals: Totals;
  plnGrosz: bigint | null;
  daysWithoutRate: string[];
};

/**
 * The month's billing statement for every org the caller may see: per org and per day, with the
 * day's billed cost in PLN at the statutory rate (DESIGN §6). Org lines are sums of day lines.
 */
export async function billingStatement(
  ctx: UsageContext,
  principal: Principal,
  month: string | undefined,
): Promise<BillingStatement> {
  const period = monthDays(month ?? monthOf(today(ctx.timeZone, ctx.now())));
  const orgs = await visibleOrganizations(ctx, principal);
  const rows = await aggregateUsage(ctx.db, { clientOrgIds: orgs.map((org) => org.id), ...period }, [
    'client_org_id',
    'usage_day',
  ]);
  const [displayRate, statutory] = await Promise.all([
    ctx.exchangeRates.displayRate(),
    ctx.exchangeRates.statutoryRates([...new Set(rows.map((row) => row.keys.usage_day!))]),
  ]);
  const daysByOrg = new Map<string, StatementDay[]>();
  for (const row of rows) {
    const date = row.keys.usage_day!;
    const rate = statutory.get(date) ?? null;
    const day = {
      date,
      totals: row.totals,
      rate,
      plnGrosz: rate ? convertToPln(row.totals.billedCostNanoUsd, rate.usdPln) : null,
    };
    const orgId = row.keys.client_org_id!;
    if (!daysByOrg.has(orgId)) daysByOrg.set(orgId, []);
    daysByOrg.get(orgId)!.push(day);
  }
  const statementOrgs = orgs.map((org): StatementOrg => {
    const days = daysByOrg.get(org.id) ?? [];
    const daysWithoutRate = days.filter((day) => day.plnGrosz === null).map((day) => day.date);
    return {
      org,
      totals: sumTotals(days.map((day) => day.totals)),
      days,
      plnGrosz: daysWithoutRate.length > 0 ? null : days.reduce((sum, day) => sum + day.plnGrosz!, 0n),
      daysWithoutRate,
    };
  });
  const daysWithoutRate = [...new Set(statementOrgs.flatMap((line) => line.daysWithoutRate))].sort();
  return {
    month: monthOf(period.from),
    period,
    displayRate,
    orgs: statementOrgs,
    totals: sumTotals(statementOrgs.map((line) => line.totals)),
    plnGrosz: daysWithoutRate.length > 0 ? null : statementOrgs.reduce((sum, line) => sum + line.plnGrosz!, 0n),
    daysWithoutRate,
  };
}

/** The statement's PLN total: exact sum of day lines, or null with the days that have no rate. */
function statementPln(plnGrosz: bigint | null, daysWithoutRate: string[]) {
  return {
    ...plnAmount(plnGrosz),
    source: 'NBP Table A' as const,
    rule: STATEMENT_RATE_RULE,
    complete: daysWithoutRate.length === 0,
    days_without_rate: daysWithoutRate,
  };
}

/** One day line: USD figures and PLN at that day's statutory rate, with the rate printed. */
function statementDayView(day: StatementDay, principal: Principal) {
  return {
    date: day.date,
    ...usdTotalsView(day.totals, principal),
    ...plnAmount(day.plnGrosz),
    rate: statementRateView(day.rate),
    pln_unavailable_reason: day.rate ? null : statementRateMissing(day.date),
  };
}

/** The billing statement as JSON: display PLN per org (table C) plus the statutory per-day lines. */
export function billingView(statement: BillingStatement, principal: Principal) {
  const rate = statement.displayRate;
  return {
    success: true,
    month: statement.month,
    period: statement.period,
    currency: 'USD',
    clients: statement.orgs.map(({ org, totals, days, plnGrosz, daysWithoutRate }) => ({
      client_org_id: org.id,
      client_name: org.name,
      is_active: org.active,
      ...(principal.kind === 'operator' ? { markup_rate: Number(formatMarkupRate(org.markupRatePpm)) } : {}),
      ...totalsView(totals, principal, rate),
      monthly_limit_usd: org.monthlyLimitNanoUsd === null ? null : nanoToUsdNumber(org.monthlyLimitNanoUsd),
      limit_used_pct: limitUsedPct(totals.billedCostNanoUsd, org.monthlyLimitNanoUsd),
      statement_pln: statementPln(plnGrosz, daysWithoutRate),
      days: days.map((day) => statementDayView(day, principal)),
    })),
    totals: {
      ...totalsView(statement.totals, principal, rate),
      statement_pln: statementPln(statement.plnGrosz, statement.daysWithoutRate),
    },
    exchange_rate_info: displayRateInfo(rate),
  };
}

/** Per-user breakdown of one org over a period, largest cost first. */
export async function usageByUser(ctx: UsageContext, principal: Principal, clientId: string, period: Period) {
  const org = await requireVisibleOrganization(ctx, principal, clientId);
  const rows = await aggregateUsage(ctx.db, { clientOrgIds: [org.id], ...period }, ['user_id']);
  const mappings = new Map(
    (
      await findUserMappings(
        ctx.db,
        org.instanceId,
        rows.map((r) => r.keys.user_id!),
      )
    ).map((m) => [m.userId, m]),
  );
  const total = await totalUsage(ctx.db, { clientOrgIds: [org.id], ...period });
  const rate = await ctx.exchangeRates.displayRate();
  return {
    success: true,
    client_org_id: org.id,
    client_name: org.name,
    period,
    users: sortByCost(rows).map((row) => {
      const mapping = mappings.get(row.keys.user_id!);
      return {
        user_id: row.keys.user_id!,
        user_email: mapping?.userEmail ?? null,
        user_name: mapping?.userName ?? null,
        ...totalsView(row.totals, principal, rate),
        cost_share_pct: sharePct(row.totals.billedCostNanoUsd, total.billedCostNanoUsd),
      };
    }),
    totals: totalsView(total, principal, rate),
    exchange_rate_info: displayRateInfo(rate),
  };
}

/** Per-model breakdown of one org over a period, largest cost first. */
export async function usageByModel(ctx: UsageContext, principal: Principal, clientId: string, period: Period) {
  const org = await requireVisibleOrganization(ctx, principal, clientId);
  const rows = await aggregateUsage(ctx.db, { clientOrgIds: [org.id], ...period }, ['model']);
  const total = await totalUsage(ctx.db, { clientOrgIds: [org.id], ...period });
  const rate = await ctx.exchangeRates.displayRate();
  return {
    success: true,
    client_org_id: org.id,
    client_name: org.name,
    period,
    models: sortByCost(rows).map((row) => ({
      model: row.keys.model!,
      provider: row.keys.model!.includes('/') ? row.keys.model!.split('/')[0] : null,
      ...totalsView(row.totals, principal, rate),
      cost_share_pct: sharePct(row.totals.billedCostNanoUsd, total.billedCostNanoUsd),
    })),
    totals: totalsView(total, principal, rate),
    exchange_rate_info: displayRateInfo(rate),
  };
}

function sortByCost<T extends { totals: Totals }>(rows: T[]): T[] {
  return [...rows].sort((a, b) =>
    a.totals.billedCostNanoUsd === b.totals.billedCostNanoUsd
      ? Number(b.totals.requests - a.totals.requests)
      : a.totals.billedCostNanoUsd > b.totals.billedCostNanoUsd
        ? -1
        : 1,
  );
}

function sharePct(part: bigint, whole: bigint): number {
  return whole === 0n ? 0 : Number(divRound(part * 10_000n, whole)) / 100;
}

export type ExportValue = string | number | boolean | null;

/** Markup text by stored ppm: an export repeats a few markups over thousands of rows. */
const markupTexts = new Map<unknown, string>();
function markupText(ppm: unknown): string {
  let text = markupTexts.get(ppm);
  if (text === undefined) {
    if (markupTexts.size >= 1_000) markupTexts.clear();
    text = formatMarkupRate(toBigInt(ppm));
    markupTexts.set(ppm, text);
  }
  return text;
}

/** As stored: text, a number or null. */
const asStored = (value: unknown) => value as ExportValue;

/**
 * The export's columns in order, each with the ledger column it shows and how it reads its
 * value: the one definition of the CSV header, the CSV lines and the JSON objects. `text`
 * columns hold what clients sent or the sidecar wrote as text, the only values CSV may have to
 * quote. Raw cost, markup and BYOK are the operator's only.
 */
const EXPORT_COLUMNS: readonly {
  name: string;
  column: UsageEventColumn;
  value: (value: unknown) => ExportValue;
  text?: true;
  operatorOnly?: true;
}[] = [
  { name: 'event_id', column: 'event_id', value: asStored, text: true },
  { name: 'occurred_at', column: 'occurred_at', value: asStored, text: true },
  { name: 'usage_day', column: 'usage_day', value: asStored, text: true },
  { name: 'client_org_id', column: 'client_org_id', value: asStored, text: true },
  { name: 'user_id', column: 'user_id', value: asStored, text: true },
  { name: 'model', column: 'model', value: asStored, text: true },
  { name: 'channel', column: 'channel', value: asStored, text: true },
  { name: 'source', column: 'source', value: asStored, text: true },
  { name: 'input_tokens', column: 'input_tokens', value: asStored },
  { name: 'output_tokens', column: 'output_tokens', value: asStored },
  { name: 'cached_tokens', column: 'cached_tokens', value: asStored },
  { name: 'reasoning_tokens', column: 'reasoning_tokens', value: asStored },
  { name: 'cost_status', column: 'cost_status', value: asStored, text: true },
  { name: 'cost', column: 'billed_cost_nano_usd', value: nanoValueToUsdNumber },
  { name: 'cost_nano_usd', column: 'billed_cost_nano_usd', value: integerText },
  { name: 'raw_cost_nano_usd', column: 'raw_cost_nano_usd', value: integerText, operatorOnly: true },
  { name: 'markup_rate', column: 'markup_rate_ppm', value: markupText, operatorOnly: true },
  { name: 'is_byok', column: 'is_byok', value: toBool, operatorOnly: true },
  { name: 'generation_id', column: 'generation_id', value: asStored, text: true },
  { name: 'chat_id', column: 'chat_id', value: asStored, text: true },
  { name: 'message_id', column: 'message_id', value: asStored, text: true },
  { name: 'reason', column: 'reason', value: asStored, text: true },
];

/** One exported column as a writer uses it: where its value sits in LedgerValues, and how to read it. */
export type ExportCell = { name: string; index: number; value: (value: unknown) => ExportValue; text: boolean };

const cellsOf = (columns: typeof EXPORT_COLUMNS): readonly ExportCell[] =>
  columns.map(({ name, column, value, text }) => ({
    name,
    index: USAGE_EVENT_COLUMN_INDEX[column],
    value,
    text: text === true,
  }));
const OPERATOR_CELLS = cellsOf(EXPORT_COLUMNS);
const OTHERS_CELLS = cellsOf(EXPORT_COLUMNS.filter((column) => !column.operatorOnly));

/** The export's columns for this caller, in order. */
export function exportCells(principal: Principal): readonly ExportCell[] {
  return principal.kind === 'operator' ? OPERATOR_CELLS : OTHERS_CELLS;
}

/** One ledger row as a JSON export object. */
export function exportRow(values: LedgerValues, principal: Principal): Record<string, ExportValue> {
  const row: Record<string, ExportValue> = {};
  for (const cell of exportCells(principal)) row[cell.name] = cell.value(values[cell.index]);
  return row;
}
