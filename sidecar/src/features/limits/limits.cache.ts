import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { isPostgres } from '../../db/dialect.js';
import { monthDays } from '../../lib/time.js';
import { defaultOrganizationId } from '../organizations/organizations.service.js';
import {
  allowedDecision,
  billingMonthAt,
  decideLimits,
  type BillingMonth,
  type LimitDecision,
} from './limits.service.js';
import {
  findCostStatuses,
  listLimitedOrgs,
  listLimitedUsers,
  ping,
  sumBilledByUser,
  type LimitedOrg,
  type LimitedUser,
} from './limits.store.js';

/**
 * The limit check's memory. The filter asks before every chat turn, so the answer comes from
 * memory: the limits (orgs and mappings of this instance) and, per org with a limit, this
 * billing month's billed cost in total and per user.
 *
 * Consistency with the ledger: an org's month is read once from usage_daily, then kept current
 * by the ledger handing over what each commit changed: new events (`applyCommitted`) and pending
 * costs filled in by the sync (`applyCostFilled`). A read and commits that race with it are told
 * apart by event id: the read runs in one snapshot (a single SQLite connection; REPEATABLE READ
 * on PostgreSQL) that also says which of the changes committed meanwhile it already holds (the
 * event is there; its cost is no longer pending), so none is counted twice or missed. Limits are re-read after a
 * change made through this process (`invalidate`) and every RULES_TTL; usage every USAGE_TTL
 * (other sidecars sharing PostgreSQL may write to the same orgs), both in the background.
 */

/**
 * What the ledger hands over after a commit: the new events (never duplicates), or events whose
 * pending cost was just filled (billedCostNanoUsd is then the cost added; it was 0).
 */
export type CommittedUsage = {
  eventId: string;
  clientOrgId: string;
  userId: string;
  /** Local day in the billing time zone, YYYY-MM-DD. */
  usageDay: string;
  billedCostNanoUsd: bigint;
};

/** A limit and how much of it the period has used: what alerts are raised from. */
export type LimitLevel = {
  clientOrgId: string;
  /** '' for the org's own limit. */
  userId: string;
  period: string;
  limitNanoUsd: bigint;
  usedNanoUsd: bigint;
};

export type LimitState = {
  /** The filter's answer; loads what is missing first (once per org and month). */
  check(userId: string): Promise<Readonly<LimitDecision>>;
  /** The answer from memory alone, or undefined when something has to be loaded first. */
  checkFromMemory(userId: string): Readonly<LimitDecision> | undefined;
  /** Called by the ledger after each commit with the events that were new. Never throws. */
  applyCommitted(events: readonly CommittedUsage[]): void;
  /** Called after a pending cost was filled in (and committed). Never throws. */
  applyCostFilled(events: readonly CommittedUsage[]): void;
  /** Limits changed (an org or a mapping was written): re-read them before the next answer. */
  invalidate(): void;
  /** Re-reads limits and this month's usage of every org with a limit (the alerts job). */
  refresh(): Promise<{ limitedOrgs: number }>;
  /** What memory holds of an org's current month (tests, metrics); undefined when not loaded. */
  usageOf(
    clientOrgId: string,
  ): { period: string; totalNanoUsd: bigint; users: ReadonlyMap<string, bigint> } | undefined;
  /** Resolves when no load started so far is still running (tests, shutdown). */
  settled(): Promise<void>;
};

export const RULES_TTL_MS = 30_000;
export const USAGE_TTL_MS = 60_000;

type Rules = {
  orgs: Map<string, LimitedOrg>;
  users: Map<string, LimitedUser>;
  /** Per org, its users that have a limit of their own. */
  limitedUsers: Map<string, LimitedUser[]>;
  /** Orgs whose usage matters: an org limit or a user limit in it. */
  limitedOrgIds: Set<string>;
  generation: number;
  loadedAt: number;
};

type MonthUsage = { period: string; totalNanoUsd: bigint; users: Map<string, bigint>; loadedAt: number };

type Change = { event: CommittedUsage; kind: 'recorded' | 'cost_filled' };

/** Changes committed while a snapshot of some orgs' month was being read. */
type Collector = { period: string; orgIds: Set<string>; arrived: Change[] };

const MAX_LOAD_ATTEMPTS = 5;

export function createLimitState(deps: {
  db: Knex;
  instanceId: string;
  billingTimeZone: string;
  logger: Logger;
  now: () => Date;
  /** Called with the levels that may have changed: after commits, loads and limit changes. */
  onLevels?: (levels: LimitLevel[]) => void;
  rulesTtlMs?: number;
  usageTtlMs?: number;
}): LimitState {
  const rulesTtl = deps.rulesTtlMs ?? RULES_TTL_MS;
  const usageTtl = deps.usageTtlMs ?? USAGE_TTL_MS;
  const defaultOrgId = defaultOrganizationId(deps.instanceId);
  const snapshotOptions: Knex.TransactionConfig | undefined = isPostgres(deps.db)
    ? { isolationLevel: 'repeatable read', readOnly: true }
    : undefined;

  let rules: Rules | null = null;
  /** Bumped by invalidate(); rules loaded under an older generation are not answered from. */
  let wantedGeneration = 0;
  let rulesLoading: Promise<Rules> | null = null;
  let month: BillingMonth | null = null;
  const usage = new Map<string, MonthUsage>();
  const usageLoading = new Map<string, Promise<void>>();
  const collectors = new Set<Collector>();
  const background = new Set<Promise<unknown>>();

  /** A clock moved backwards (tests) counts as expired too. */
  const expired = (loadedAt: number, ttl: number, at: number) => at - loadedAt >= ttl || at < loadedAt;

  function currentMonth(at: number): BillingMonth {
    if (month && at >= month.startMs && at < month.endMs) return month;
    month = billingMonthAt(deps.billingTimeZone, new Date(at));
    // A new month starts at zero: drop every other month (loaded lazily again).
    for (const [orgId, entry] of usage) if (entry.period !== month.period) usage.delete(orgId);
    return month;
  }

  function inBackground(work: Promise<unknown>, what: string): void {
    const tracked = work
      .catch((error: unknown) => deps.logger.warn({ err: error }, `limit state: ${what} failed`))
      .finally(() => background.delete(tracked));
    background.add(tracked);
  }

  // ---- limits (orgs and mappings) ----

  async function readRules(): Promise<Rules> {
    const generation = wantedGeneration;
    const orgs = await listLimitedOrgs(deps.db, deps.instanceId);
    const users = await listLimitedUsers(deps.db, deps.instanceId);
    const loaded: Rules = {
      orgs: new Map(orgs.map((org) => [org.id, org])),
      users: new Map(users.map((user) => [user.userId, user])),
      limitedUsers: new Map(),
      limitedOrgIds: new Set(orgs.filter((org) => org.monthlyLimitNanoUsd !== null).map((org) => org.id)),
      generation,
      loadedAt: deps.now().getTime(),
    };
    for (const user of users) {
      if (user.monthlyLimitNanoUsd === null) continue;
      loaded.limitedOrgIds.add(user.clientOrgId);
      const list = loaded.limitedUsers.get(user.clientOrgId) ?? [];
      list.push(user);
      loaded.limitedUsers.set(user.clientOrgId, list);
    }
    rules = loaded;
    // Memory is needed only for orgs with a limit.
    for (const orgId of usage.keys()) if (!loaded.limitedOrgIds.has(orgId)) usage.delete(orgId);
    // A limit may have been lowered under the usage: let alerts look again.
    for (const [orgId, entry] of usage) emitLevels(orgId, entry);
    return loaded;
  }

  function loadRules(): Promise<Rules> {
    rulesLoading ??= readRules().finally(() => {
      rulesLoading = null;
    });
    return rulesLoading;
  }

  async function currentRules(): Promise<Rules> {
    for (let attempt = 0; attempt < MAX_LOAD_ATTEMPTS; attempt++) {
      const loaded = rules?.generation === wantedGeneration ? rules : await loadRules();
      if (loaded.generation === wantedGeneration) return loaded;
    }
    throw new Error('limits kept changing while being read');
  }

  // ---- usage per org and month ----

  /**
   * Reads the month of some orgs in one snapshot. Commits that land meanwhile are collected;
   * the snapshot is asked which of them it holds, and the others are added to it.
   */
  async function readUsage(orgIds: string[]): Promise<void> {
    const { period } = currentMonth(deps.now().getTime());
    const collector: Collector = { period, orgIds: new Set(orgIds), arrived: [] };
    collectors.add(collector);
    const late: Change[] = [];
    let rows: Awaited<ReturnType<typeof sumBilledByUser>> = [];
    let checked = 0;
    try {
      await deps.db.transaction(async (tx) => {
        rows = await sumBilledByUser(tx, orgIds, monthDays(period));
        // At least one more round trip: a commit that preceded the snapshot has certainly
        // reported itself by the time it returns.
        let round = 0;
        do {
          const fresh = collector.arrived.slice(checked);
          checked += fresh.length;
          if (fresh.length === 0) {
            await ping(tx);
          } else {
            const statuses = await findCostStatuses(
              tx,
              fresh.map((change) => change.event.eventId),
            );
            for (const change of fresh) if (!heldBy(statuses, change)) late.push(change);
          }
          round += 1;
        } while (checked < collector.arrived.length && round < 20);
      }, snapshotOptions);
    } finally {
      collectors.delete(collector);
    }
    // Anything reported after the last look committed after the snapshot.
    late.push(...collector.arrived.slice(checked));
    if (currentMonth(deps.now().getTime()).period !== period) return;

    const loadedAt = deps.now().getTime();
    const fresh = new Map<string, MonthUsage>(
      orgIds.map((orgId) => [orgId, { period, totalNanoUsd: 0n, users: new Map(), loadedAt }]),
    );
    for (const row of rows) addTo(fresh.get(row.clientOrgId), row.userId, row.billedCostNanoUsd);
    for (const { event } of late) addTo(fresh.get(event.clientOrgId), event.userId, event.billedCostNanoUsd);
    for (const [orgId, entry] of fresh) {
      usage.set(orgId, entry);
      emitLevels(orgId, entry);
    }
  }

  /** Loads (or re-reads) orgs' month, joining loads already running for any of them. */
  function loadUsage(orgIds: string[]): Promise<void> {
    const waiting: Promise<void>[] = [];
    const toRead: string[] = [];
    for (const orgId of new Set(orgIds)) {
      const running = usageLoading.get(orgId);
      if (running) waiting.push(running);
      else toRead.push(orgId);
    }
    if (toRead.length > 0) {
      const reading = readUsage(toRead).finally(() => {
        for (const orgId of toRead) if (usageLoading.get(orgId) === reading) usageLoading.delete(orgId);
      });
      for (const orgId of toRead) usageLoading.set(orgId, reading);
      waiting.push(reading);
    }
    return Promise.all(waiting).then(() => undefined);
  }

  /** Whether the snapshot already holds a change: the event is there, and its cost filled if that was the change. */
  function heldBy(statuses: Map<string, string>, change: Change): boolean {
    const status = statuses.get(change.event.eventId);
    if (status === undefined) return false;
    return change.kind === 'recorded' || status !== 'pending';
  }

  function addTo(entry: MonthUsage | undefined, userId: string, nanoUsd: bigint): void {
    if (!entry) return;
    entry.totalNanoUsd += nanoUsd;
    entry.users.set(userId, (entry.users.get(userId) ?? 0n) + nanoUsd);
  }

  // ---- levels for alerts ----

  function emitLevels(orgId: string, entry: MonthUsage, userIds?: Iterable<string>): void {
    if (!deps.onLevels || !rules) return;
    const levels: LimitLevel[] = [];
    const org = rules.orgs.get(orgId);
    if (org?.monthlyLimitNanoUsd != null) {
      levels.push({
        clientOrgId: orgId,
        userId: '',
        period: entry.period,
        limitNanoUsd: org.monthlyLimitNanoUsd,
        usedNanoUsd: entry.totalNanoUsd,
      });
    }
    const users = userIds
      ? [...userIds].flatMap((userId) => rules?.users.get(userId) ?? [])
      : (rules.limitedUsers.get(orgId) ?? []);
    for (const user of users) {
      if (user.clientOrgId !== orgId || user.monthlyLimitNanoUsd === null) continue;
      levels.push({
        clientOrgId: orgId,
        userId: user.userId,
        period: entry.period,
        limitNanoUsd: user.monthlyLimitNanoUsd,
        usedNanoUsd: entry.users.get(user.userId) ?? 0n,
      });
    }
    if (levels.length === 0) return;
    try {
      deps.onLevels(levels);
    } catch (error) {
      deps.logger.error({ err: error }, 'limit state: level listener failed');
    }
  }

  /** Orgs with a limit that got usage before anyone asked about them: load them for the alerts. */
  async function watch(orgIds: string[]): Promise<void> {
    const current = await currentRules();
    const wanted = orgIds.filter((orgId) => current.limitedOrgIds.has(orgId) && !usage.has(orgId));
    if (wanted.length > 0) await loadUsage(wanted);
  }

  // ---- the check ----

  function checkFromMemory(userId: string): Readonly<LimitDecision> | undefined {
    if (!rules || rules.generation !== wantedGeneration) return undefined;
    const at = deps.now().getTime();
    if (expired(rules.loadedAt, rulesTtl, at) && !rulesLoading) inBackground(loadRules(), 'reading limits');
    const mapping = rules.users.get(userId);
    const org = rules.orgs.get(mapping?.clientOrgId ?? defaultOrgId);
    if (!org) return allowedDecision;
    const userLimit = mapping?.monthlyLimitNanoUsd ?? null;
    if (org.monthlyLimitNanoUsd === null && userLimit === null) return allowedDecision;
    const { resetsAt } = currentMonth(at);
    const entry = usage.get(org.id);
    if (!entry) return undefined;
    if (expired(entry.loadedAt, usageTtl, at) && !usageLoading.has(org.id)) {
      inBackground(loadUsage([org.id]), 'reading usage');
    }
    return decideLimits({
      org,
      orgUsedNanoUsd: entry.totalNanoUsd,
      userLimitNanoUsd: userLimit,
      userUsedNanoUsd: entry.users.get(userId) ?? 0n,
      resetsAt,
    });
  }

  async function check(userId: string): Promise<Readonly<LimitDecision>> {
    for (let attempt = 0; attempt < MAX_LOAD_ATTEMPTS; attempt++) {
      const decision = checkFromMemory(userId);
      if (decision) return decision;
      const current = await currentRules();
      const orgId = current.users.get(userId)?.clientOrgId ?? defaultOrgId;
      if (current.limitedOrgIds.has(orgId) && !usage.has(orgId)) await loadUsage([orgId]);
    }
    throw new Error(`limit state for user ${userId} could not be loaded`);
  }

  function apply(events: readonly CommittedUsage[], kind: Change['kind']): void {
    try {
      const { period } = currentMonth(deps.now().getTime());
      const touched = new Map<string, Set<string>>();
      const unloaded = new Set<string>();
      for (const event of events) {
        // Only this month is kept; a late event for an earlier month changes no limit.
        if (event.usageDay.slice(0, 7) !== period) continue;
        for (const collector of collectors) {
          if (collector.period === period && collector.orgIds.has(event.clientOrgId)) {
            collector.arrived.push({ event, kind });
          }
        }
        const entry = usage.get(event.clientOrgId);
        if (!entry) {
          if (!usageLoading.has(event.clientOrgId)) unloaded.add(event.clientOrgId);
          continue;
        }
        addTo(entry, event.userId, event.billedCostNanoUsd);
        const users = touched.get(event.clientOrgId) ?? new Set<string>();
        users.add(event.userId);
        touched.set(event.clientOrgId, users);
      }
      for (const [orgId, users] of touched) {
        const entry = usage.get(orgId);
        if (entry) emitLevels(orgId, entry, users);
      }
      if (unloaded.size > 0) inBackground(watch([...unloaded]), 'loading usage for alerts');
    } catch (error) {
      deps.logger.error({ err: error }, 'limit state: applying committed usage failed');
    }
  }

  return {
    check,
    checkFromMemory,
    applyCommitted: (events) => apply(events, 'recorded'),
    applyCostFilled: (events) => apply(events, 'cost_filled'),
    invalidate() {
      wantedGeneration += 1;
    },
    async refresh() {
      wantedGeneration += 1;
      const current = await currentRules();
      const limited = [...current.limitedOrgIds];
      // Loads already running are joined; they read at least as recently as a new one would.
      await loadUsage(limited);
      return { limitedOrgs: limited.length };
    },
    usageOf(clientOrgId) {
      const entry = usage.get(clientOrgId);
      if (!entry || entry.period !== currentMonth(deps.now().getTime()).period) return undefined;
      return { period: entry.period, totalNanoUsd: entry.totalNanoUsd, users: new Map(entry.users) };
    },
    async settled() {
      while (background.size > 0 || usageLoading.size > 0 || rulesLoading) {
        await Promise.allSettled([...background, ...usageLoading.values(), rulesLoading]);
      }
    },
  };
}
