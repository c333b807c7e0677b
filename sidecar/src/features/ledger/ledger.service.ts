import type { Knex } from 'knex';
import type { Database } from 'sqlite3';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { Db } from '../../db/dialect.js';
import { isPostgres, isSchemaError } from '../../db/dialect.js';
import { holdSqliteConnection, sqliteExec } from '../../db/sqlite-connection.js';
import { applyMarkup } from '../../lib/money.js';
import { localDay } from '../../lib/time.js';
import { ensureDefaultOrganization } from '../organizations/organizations.service.js';
import { findOrganizations } from '../organizations/organizations.store.js';
import { insertUserMappingsIfMissing, updateUserIdentity } from '../user-mappings/user-mappings.store.js';
import {
  addToDailyRollup,
  dailyDeltaOf,
  findUserOrgs,
  insertGenerationStarts,
  insertUsageEvents,
  sqliteLedgerScript,
  type CostStatus,
  type EventSource,
  type GenerationStart,
  type UsageEvent,
  type UserOrg,
} from './ledger.store.js';
import { ensureBacklogTable, eventKeyOf, findRecordedKeys, insertBacklog, takeBacklog } from './ledger.backlog.js';

/**
 * The one write path for usage. Every source (filter, webhook, manual correction, sync) hands
 * its events here; each is inserted once by event_id and, only when new, added to usage_daily in
 * the same transaction. Concurrent callers are grouped into one transaction (group commit) and
 * each caller is answered only after that transaction has committed.
 *
 * While the schema is not current (migrations locked by another sidecar, or a failed step) the
 * inputs go to the backlog instead (ledger.backlog.ts), which needs no migrated table; once
 * migrations are done `rollUpBacklog` writes them through the normal path, each exactly once.
 */

export type LedgerInput = {
  kind: 'completion' | 'generation_started';
  eventId: string;
  source: EventSource;
  occurredAt: string;
  /** The Open WebUI user; their org comes from user_client_mappings (learned if missing). */
  user: { id: string; email: string | null; name: string | null } | null;
  /** Set when the caller already knows the org (manual record, webhook by org key). */
  clientOrgId: string | null;
  model: string;
  channel: string;
  generationId: string | null;
  chatId: string | null;
  messageId: string | null;
  externalUser: string | null;
  reason: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** USD the provider reported (`usage.cost`), rounded to nano; null when not reported. */
  providerCostNanoUsd: bigint | null;
  upstreamCostNanoUsd: bigint | null;
  isByok: boolean;
};

export type RecordStatus = 'recorded' | 'duplicate';

export type Ledger = {
  record(inputs: LedgerInput[]): Promise<RecordStatus[]>;
  /** Resolves once everything queued so far is committed. */
  drain(): Promise<void>;
  /** false: new usage goes to the backlog (the schema is behind); true: the normal path. */
  setSchemaCurrent(current: boolean): void;
  /** Whether new usage takes the normal path. */
  schemaCurrent(): boolean;
  /**
   * Switches to the normal path and writes this instance's backlog through it, each input
   * exactly once (a row leaves the backlog in the transaction that writes it). Returns how many
   * inputs were taken; one that cannot be written (not for schema reasons) stays and is logged.
   */
  rollUpBacklog(): Promise<number>;
};

type Pending = { inputs: LedgerInput[]; resolve(statuses: RecordStatus[]): void; reject(error: unknown): void };

/** Raw cost: what OpenRouter charged; for BYOK its fee plus the upstream provider's charge. */
export function rawCostOf(input: LedgerInput): { rawCostNanoUsd: bigint; costStatus: CostStatus } {
  if (input.providerCostNanoUsd === null) return { rawCostNanoUsd: 0n, costStatus: 'pending' };
  const upstream = input.isByok ? (input.upstreamCostNanoUsd ?? 0n) : 0n;
  return {
    rawCostNanoUsd: input.providerCostNanoUsd + upstream,
    costStatus: input.source === 'manual' ? 'manual' : 'reported',
  };
}

const MAX_EVENTS_PER_TRANSACTION = 5_000;
const MAX_KNOWN_USERS = 50_000;

const HOUR_MS = 3_600_000;
/** UTC ISO instants with a `Z` and at most millisecond precision: Date.parse reads them exactly. */
const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

/**
 * localDay(), remembered per UTC hour: a zone's offset is looked up once per hour (the ledger
 * sees the same few hours over and over) and the day is the UTC date of instant + offset. An hour
 * in which the offset changes (a DST switch) is not remembered; its events take the slow path.
 */
export function createLocalDayOf(zone: string): (instant: string) => string {
  const offsets = new Map<number, number | null>();
  return (instant) => {
    if (!UTC_INSTANT.test(instant)) return localDay(instant, zone);
    const ms = Date.parse(instant);
    if (!Number.isFinite(ms)) return localDay(instant, zone);
    const hour = Math.floor(ms / HOUR_MS);
    let offset = offsets.get(hour);
    if (offset === undefined) {
      const start = DateTime.fromMillis(hour * HOUR_MS, { zone }).offset;
      const end = DateTime.fromMillis(hour * HOUR_MS + HOUR_MS - 1, { zone }).offset;
      offset = start === end ? start * 60_000 : null;
      if (offsets.size >= 50_000) offsets.clear();
      offsets.set(hour, offset);
    }
    if (offset === null) return localDay(instant, zone);
    return new Date(ms + offset).toISOString().slice(0, 10);
  };
}

export function createLedger(deps: {
  db: Knex;
  instanceId: string;
  billingTimeZone: string;
  defaultMarkupRatePpm: () => Promise<bigint>;
  logger: Logger;
  now?: () => Date;
  /** Called after each commit with the events it added (the limit check's memory). */
  onCommitted?: (events: UsageEvent[]) => void;
  /** Called with each caller's inputs and answers (metrics). Must not throw. */
  onRecorded?: (inputs: LedgerInput[], statuses: RecordStatus[]) => void;
  /** The normal write failed because a table or column is missing: the schema fell behind. */
  onSchemaError?: (error: unknown) => void;
  /** Whether to start on the normal path (default true: callers migrate first). */
  schemaCurrent?: boolean;
}): Ledger {
  const now = deps.now ?? (() => new Date());
  const queue: Pending[] = [];
  let flushing: Promise<void> | null = null;
  let schemaCurrent = deps.schemaCurrent ?? true;
  let backlogTableReady = false;
  let rollingUp: Promise<number> | null = null;

  const localDayOf = createLocalDayOf(deps.billingTimeZone);

  /**
   * Maps each user to an org (with that org's markup, read in the same query), learning a
   * default-org mapping for users seen the first time.
   */
  async function resolveOrgs(
    tx: Db,
    inputs: LedgerInput[],
    at: string,
    defaultMarkupRatePpm: bigint,
  ): Promise<Map<string, UserOrg>> {
    const users = new Map<string, NonNullable<LedgerInput['user']>>();
    for (const input of inputs) if (input.user && !input.clientOrgId) users.set(input.user.id, input.user);
    if (users.size === 0) return new Map();
    const mappings = new Map((await findUserOrgs(tx, deps.instanceId, [...users.keys()])).map((m) => [m.userId, m]));
    const unmapped = [...users.values()].filter((user) => !mappings.has(user.id));
    if (unmapped.length > 0) {
      const defaultOrg = await ensureDefaultOrganization(tx, {
        instanceId: deps.instanceId,
        markupRatePpm: defaultMarkupRatePpm,
        at,
      });
      await insertUserMappingsIfMissing(
        tx,
        unmapped.map((user) => ({
          instanceId: deps.instanceId,
          userId: user.id,
          clientOrgId: defaultOrg.id,
          openRouterUserId: user.id,
          userEmail: user.email,
          userName: user.name,
          active: true,
          monthlyLimitNanoUsd: null,
          source: 'learned',
          createdAt: at,
          updatedAt: at,
        })),
      );
      for (const mapping of await findUserOrgs(
        tx,
        deps.instanceId,
        unmapped.map((u) => u.id),
      )) {
        mappings.set(mapping.userId, mapping);
      }
    }
    // Keep report names current when a user's email or name changes in Open WebUI.
    for (const user of users.values()) {
      const mapping = mappings.get(user.id);
      if (mapping && identityChanged(user, mapping)) {
        const identity = { userEmail: user.email ?? mapping.userEmail, userName: user.name ?? mapping.userName };
        await updateUserIdentity(tx, deps.instanceId, user.id, { ...identity, updatedAt: at });
        mappings.set(user.id, { ...mapping, ...identity });
      }
    }
    return mappings;
  }

  /** SQLite: the connection writeInOneScript keeps between back-to-back groups. */
  const scriptConnection = holdSqliteConnection(deps.db);

  /** Mappings read by the last transactions, by user: what writeInOneScript prices with. */
  const knownUsers = new Map<string, UserOrg>();
  function rememberUsers(mappings: Iterable<UserOrg>): void {
    for (const mapping of mappings) {
      if (knownUsers.size >= MAX_KNOWN_USERS) knownUsers.clear();
      knownUsers.set(mapping.userId, mapping);
    }
  }

  /** A user whose email or name in Open WebUI differs from their mapping's. */
  function identityChanged(user: NonNullable<LedgerInput['user']>, mapping: UserOrg): boolean {
    return (
      (user.email !== null && user.email !== mapping.userEmail) ||
      (user.name !== null && user.name !== mapping.userName)
    );
  }

  /** Each mapped org's current markup, as read with its users' mappings. */
  function markupsOf(mappings: Iterable<UserOrg>): Map<string, bigint> {
    const markups = new Map<string, bigint>();
    for (const mapping of mappings) {
      if (mapping.markupRatePpm !== null) markups.set(mapping.clientOrgId, mapping.markupRatePpm);
    }
    return markups;
  }

  function orgOf(mappings: Map<string, UserOrg>): (input: LedgerInput) => string {
    return (input) => {
      const orgId = input.clientOrgId ?? (input.user ? mappings.get(input.user.id)?.clientOrgId : undefined);
      if (!orgId) throw new Error(`event ${input.eventId} has neither a user nor an org`);
      return orgId;
    };
  }

  /** The group's rows: each id once (its first occurrence), costs priced with the org's markup. */
  function price(
    inputs: LedgerInput[],
    orgIdOf: (input: LedgerInput) => string,
    markups: Map<string, bigint>,
    at: string,
  ): { events: UsageEvent[]; starts: GenerationStart[] } {
    const seen = new Set<string>();
    const events: UsageEvent[] = [];
    const starts: GenerationStart[] = [];
    for (const input of inputs) {
      const key = input.kind === 'completion' ? input.eventId : `start:${input.generationId ?? input.eventId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const clientOrgId = orgIdOf(input);
      const userId = input.user?.id ?? '';
      if (input.kind === 'generation_started') {
        starts.push({
          generationId: input.generationId ?? input.eventId,
          eventId: input.eventId,
          clientOrgId,
          userId,
          model: input.model,
          channel: input.channel,
          chatId: input.chatId,
          messageId: input.messageId,
          startedAt: input.occurredAt,
          recordedAt: at,
        });
        continue;
      }
      const markupRatePpm = markups.get(clientOrgId);
      if (markupRatePpm === undefined) throw new Error(`org ${clientOrgId} does not exist`);
      const { rawCostNanoUsd, costStatus } = rawCostOf(input);
      events.push({
        eventId: input.eventId,
        source: input.source,
        clientOrgId,
        userId,
        model: input.model,
        channel: input.channel,
        occurredAt: input.occurredAt,
        usageDay: localDayOf(input.occurredAt),
        inputTokens: input.inputTokens,
        outputTokens: input.outputTokens,
        cachedTokens: input.cachedTokens,
        reasoningTokens: input.reasoningTokens,
        costStatus,
        providerCostNanoUsd: input.providerCostNanoUsd,
        upstreamCostNanoUsd: input.upstreamCostNanoUsd,
        isByok: input.isByok,
        rawCostNanoUsd,
        markupRatePpm,
        billedCostNanoUsd: applyMarkup(rawCostNanoUsd, markupRatePpm),
        generationId: input.generationId,
        chatId: input.chatId,
        messageId: input.messageId,
        externalUser: input.externalUser,
        reason: input.reason,
        recordedAt: at,
      });
    }
    return { events, starts };
  }

  /** A given id is recorded at most once: the first input that carried it, if it was new. */
  function statusesOf(inputs: LedgerInput[], newEvents: Set<string>, newStarts: Set<string>): RecordStatus[] {
    const answered = new Set<string>();
    return inputs.map((input) => {
      const isNew =
        input.kind === 'completion' ? newEvents.has(input.eventId) : newStarts.has(input.generationId ?? input.eventId);
      const key = `${input.kind}:${input.eventId}`;
      if (!isNew || answered.has(key)) return 'duplicate';
      answered.add(key);
      return 'recorded';
    });
  }

  async function write(
    tx: Knex.Transaction,
    inputs: LedgerInput[],
    defaultMarkupRatePpm: bigint,
  ): Promise<RecordStatus[]> {
    const at = now().toISOString();
    const mappings = await resolveOrgs(tx, inputs, at, defaultMarkupRatePpm);
    const orgIdOf = orgOf(mappings);
    // Markups came with the mappings; orgs named directly (manual, webhook) are read here.
    const markups = markupsOf(mappings.values());
    const unread = [...new Set(inputs.map(orgIdOf))].filter((orgId) => !markups.has(orgId));
    for (const org of await findOrganizations(tx, unread)) markups.set(org.id, org.markupRatePpm);

    if (!isPostgres(tx)) rememberUsers(mappings.values());
    const { events, starts } = price(inputs, orgIdOf, markups, at);
    const insertedEvents = await insertUsageEvents(tx, events);
    const newEvents = events.filter((event) => insertedEvents.has(event.eventId));
    // After COMMIT only (never on rollback), and before the caller is answered.
    void tx.executionPromise.then(() => deps.onCommitted?.(newEvents)).catch(() => undefined);
    await addToDailyRollup(tx, newEvents.map(dailyDeltaOf), at);
    return statusesOf(inputs, insertedEvents, await insertGenerationStarts(tx, starts));
  }

  /** A group priced with the mappings the ledger remembers, written as one SQLite script. */
  type Script = { users: Map<string, UserOrg>; events: UsageEvent[]; starts: GenerationStart[]; sql: string };
  /** A script the driver has been given; `committed` never rejects: false once rolled back. */
  type Running = { script: Script; committed: Promise<boolean> };
  /** A group whose script was given to the driver behind the running one. */
  type Ahead = Running & { group: Pending[] };

  /**
   * SQLite's group commit as one call into the driver instead of five or six (each waits a turn of
   * the event loop, behind the HTTP work queued there). The rows are priced with the mappings
   * the ledger remembers from its last transaction for each user, and the script itself checks
   * them against the database before it writes (sqliteLedgerScript). Null when the group must
   * take `write` instead: a user not remembered or whose email or name changed, or an org named
   * directly.
   */
  function scriptFor(inputs: LedgerInput[]): Script | null {
    const users = new Map<string, UserOrg>();
    for (const input of inputs) {
      const mapping = input.user && input.clientOrgId === null ? knownUsers.get(input.user.id) : undefined;
      if (!input.user || !mapping || mapping.markupRatePpm === null || identityChanged(input.user, mapping)) {
        return null;
      }
      users.set(mapping.userId, mapping);
    }
    const at = now().toISOString();
    const { events, starts } = price(inputs, orgOf(users), markupsOf(users.values()), at);
    try {
      const sql = sqliteLedgerScript(
        deps.instanceId,
        [...users.values()],
        events,
        events.map(dailyDeltaOf),
        starts,
        at,
      );
      return { users, events, starts, sql };
    } catch (error) {
      deps.logger.debug({ err: error }, 'ledger script not written; writing the group through a transaction');
      return null;
    }
  }

  /**
   * Hands a script to the driver on the held connection. True once it committed; false, after
   * rolling back, when it stopped (a mapping changed since, an id already recorded, any other
   * failure, which `write` then meets with its own handling); its users are forgotten then, and
   * remembered afresh by `write`.
   */
  function runScript(connection: Database, script: Script): Promise<boolean> {
    return sqliteExec(connection, script.sql).then(
      () => true,
      async (error: unknown) => {
        await sqliteExec(connection, 'ROLLBACK').catch(() => undefined);
        for (const user of script.users.keys()) knownUsers.delete(user);
        deps.logger.debug({ err: error }, 'ledger script stopped; writing the group through a transaction');
        return false;
      },
    );
  }

  /** The script that runs now, and the next group's, given to the driver behind it. */
  let running: Running | null = null;
  let ahead: Ahead | null = null;
  let aheadPlanned = false;

  /**
   * While a script runs, the next group's is priced, written and handed to the driver, which
   * starts it the moment the running one ends; otherwise SQLite would wait for the event loop
   * to take the answer and for the next script to be written (a quarter of the time under
   * batched load, bench/README.md). Planned for when the requests that arrived meanwhile have
   * been read (setImmediate), so that the group holds them all. Not while a Knex query waits for
   * the connection: flush gives it back between groups then.
   */
  function planAhead(): void {
    if (aheadPlanned || running === null || ahead !== null) return;
    aheadPlanned = true;
    setImmediate(() => {
      aheadPlanned = false;
      const connection = scriptConnection.held();
      if (running === null || ahead !== null || connection === null || !schemaCurrent || queue.length === 0) return;
      if (scriptConnection.othersWaiting()) return;
      const group = takeGroup();
      const script = scriptFor(group.flatMap((p) => p.inputs));
      if (script === null) {
        queue.unshift(...group);
        return;
      }
      ahead = { group, script, committed: runScript(connection, script) };
    });
  }

  /**
   * Runs a group's script (or takes the one already given to the driver); null: take `write`.
   * The connection stays held after a script that committed (flush gives it back when the queue
   * is empty or another caller waits), so the next group's script needs no turn of the pool.
   */
  async function writeInOneScript(inputs: LedgerInput[], given: Running | null): Promise<RecordStatus[] | null> {
    let current = given;
    if (current === null) {
      const script = scriptFor(inputs);
      if (script === null) return null;
      const connection = scriptConnection.held() ?? (await scriptConnection.acquire());
      current = { script, committed: runScript(connection, script) };
    }
    running = current;
    planAhead();
    const committed = await current.committed;
    // The script given to the driver behind this one, if any, is the one running now.
    running = ahead;
    if (!committed) return null;
    const { events, starts } = current.script;
    deps.onCommitted?.(events);
    return statusesOf(
      inputs,
      new Set(events.map((event) => event.eventId)),
      new Set(starts.map((start) => start.generationId)),
    );
  }

  /** Gives the connection back to the pool, once a script given to the driver has settled. */
  async function releaseConnection(): Promise<void> {
    if (ahead !== null) await ahead.committed;
    await scriptConnection.release();
  }

  /** One group, committed: in one script where SQLite allows, else in a Knex transaction. */
  async function writeGroup(inputs: LedgerInput[], given: Running | null): Promise<RecordStatus[]> {
    const written = isPostgres(deps.db) ? null : await writeInOneScript(inputs, given);
    if (written) return written;
    // The transaction, and the markup read, need the connection the script path may hold.
    await releaseConnection();
    const markup = await deps.defaultMarkupRatePpm();
    return deps.db.transaction((tx) => write(tx, inputs, markup));
  }

  /** The next callers, up to one transaction's worth of events. */
  function takeGroup(): Pending[] {
    const group: Pending[] = [];
    let size = 0;
    while (queue.length > 0 && (group.length === 0 || size + queue[0]!.inputs.length <= MAX_EVENTS_PER_TRANSACTION)) {
      const next = queue.shift()!;
      group.push(next);
      size += next.inputs.length;
    }
    return group;
  }

  async function flush(): Promise<void> {
    while (queue.length > 0 || ahead !== null) {
      const given = ahead;
      ahead = null;
      const group = given?.group ?? takeGroup();
      const answer = (statuses: RecordStatus[]) => {
        let offset = 0;
        for (const pending of group) {
          pending.resolve(statuses.slice(offset, offset + pending.inputs.length));
          offset += pending.inputs.length;
        }
      };
      const inputs = group.flatMap((p) => p.inputs);
      // A group already given to the driver has its outcome decided there.
      const viaBacklog = !schemaCurrent && given === null;
      try {
        if (viaBacklog) {
          await releaseConnection();
          answer(await writeToBacklog(inputs));
          continue;
        }
        answer(await writeGroup(inputs, given));
        if (ahead === null && (queue.length === 0 || scriptConnection.othersWaiting())) await releaseConnection();
      } catch (error) {
        await releaseConnection();
        if (viaBacklog) {
          for (const pending of group) pending.reject(error);
          continue;
        }
        if (isSchemaError(error)) {
          // The schema is behind what this code expects: keep the usage, let migrations catch up.
          // (Already known when this group's script was given to the driver before it was.)
          if (schemaCurrent) {
            schemaCurrent = false;
            deps.logger.error({ err: error }, 'ledger write failed for a schema reason; storing usage in the backlog');
            deps.onSchemaError?.(error);
          }
          try {
            answer(await writeToBacklog(inputs));
          } catch (backlogError) {
            for (const pending of group) pending.reject(backlogError);
          }
          continue;
        }
        if (group.length === 1) {
          group[0]!.reject(error);
          continue;
        }
        // One caller's bad batch must not fail the others grouped with it: retry each alone.
        deps.logger.warn({ err: error, callers: group.length }, 'grouped ledger write failed; retrying separately');
        for (const pending of group) {
          try {
            const markup = await deps.defaultMarkupRatePpm();
            pending.resolve(await deps.db.transaction((tx) => write(tx, pending.inputs, markup)));
          } catch (single) {
            pending.reject(single);
          }
        }
      }
    }
  }

  /** The degraded path: the inputs as received, deduplicated by the ledger's keys. */
  async function writeToBacklog(inputs: LedgerInput[]): Promise<RecordStatus[]> {
    if (!backlogTableReady) {
      // Outside the transaction: a failed CREATE aborts a PostgreSQL transaction.
      await ensureBacklogTable(deps.db);
      backlogTableReady = true;
    }
    const at = now().toISOString();
    const keys = inputs.map(eventKeyOf);
    const firsts = new Map<string, LedgerInput>();
    inputs.forEach((input, index) => {
      if (!firsts.has(keys[index]!)) firsts.set(keys[index]!, input);
    });
    const inserted = await deps.db.transaction(async (tx) => {
      const recorded = await findRecordedKeys(tx, [...firsts.keys()]);
      const rows = [...firsts].filter(([key]) => !recorded.has(key)).map(([eventKey, input]) => ({ eventKey, input }));
      return insertBacklog(tx, deps.instanceId, rows, at);
    });
    const answered = new Set<string>();
    return keys.map((key) => {
      if (!inserted.has(key) || answered.has(key)) return 'duplicate';
      answered.add(key);
      return 'recorded';
    });
  }

  const ROLL_UP_BATCH = 500;

  async function rollUp(): Promise<number> {
    schemaCurrent = true;
    await ensureBacklogTable(deps.db);
    backlogTableReady = true;
    let taken = 0;
    let batch = ROLL_UP_BATCH;
    const stuck = new Set<string>();
    for (;;) {
      const markup = await deps.defaultMarkupRatePpm();
      let keys: string[] = [];
      try {
        const count = await deps.db.transaction(async (tx) => {
          const rows = await takeBacklog(tx, deps.instanceId, batch, stuck);
          keys = rows.map((row) => row.eventKey);
          if (rows.length > 0) {
            await write(
              tx,
              rows.map((row) => row.input),
              markup,
            );
          }
          return rows.length;
        });
        if (count === 0) break;
        taken += count;
      } catch (error) {
        // Not an input's fault (the schema, the database): stop here; the backlog is kept.
        if (isSchemaError(error) || keys.length === 0) throw error;
        if (batch > 1) {
          batch = 1; // find the input that cannot be written; the others go on
          continue;
        }
        for (const key of keys) stuck.add(key);
        deps.logger.error({ err: error, eventKeys: keys }, 'a backlogged usage event could not be rolled up; kept');
      }
    }
    if (taken > 0) deps.logger.info({ events: taken, kept: stuck.size }, 'ledger backlog rolled up');
    return taken;
  }

  function startFlush(): Promise<void> {
    flushing ??= flush().finally(() => {
      flushing = null;
      if (queue.length > 0) void startFlush();
    });
    return flushing;
  }

  return {
    record(inputs) {
      if (inputs.length === 0) return Promise.resolve([]);
      const result = new Promise<RecordStatus[]>((resolve, reject) => queue.push({ inputs, resolve, reject }));
      void startFlush();
      planAhead();
      if (!deps.onRecorded) return result;
      return result.then((statuses) => {
        deps.onRecorded?.(inputs, statuses);
        return statuses;
      });
    },
    async drain() {
      while (flushing) await flushing;
    },
    setSchemaCurrent(current) {
      schemaCurrent = current;
    },
    schemaCurrent: () => schemaCurrent,
    rollUpBacklog() {
      rollingUp ??= rollUp().finally(() => {
        rollingUp = null;
      });
      return rollingUp;
    },
  };
}
