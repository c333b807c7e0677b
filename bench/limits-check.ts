/**
 * `npx tsx bench/limits-check.ts`: how fast the limit check answers from memory.
 *
 * Builds the limit state over a fresh SQLite file with 20 orgs × 50 users (every org with a
 * limit, every fifth user with one of their own) and a month of usage written through the ledger,
 * loads it with one check per user, then times, single-threaded and in-process (no HTTP):
 *  - 100,000 `checkFromMemory` calls (what the route calls first),
 *  - 100,000 `await check()` calls (the same plus a promise),
 *  - 100,000 `applyCommitted` calls of one event each (the ledger's hook).
 * It also counts database queries during the timed checks (there must be none).
 * Knobs: BENCH_CHECKS (100000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createDb } from '../sidecar/src/db/knex.js';
import { createLedger, type LedgerInput } from '../sidecar/src/features/ledger/ledger.service.js';
import { createLimitState, type CommittedUsage } from '../sidecar/src/features/limits/limits.cache.js';
import { insertOrganization } from '../sidecar/src/features/organizations/organizations.store.js';
import { upsertUserMapping } from '../sidecar/src/features/user-mappings/user-mappings.store.js';

const CHECKS = Number(process.env.BENCH_CHECKS ?? 100_000);
const ORGS = 20;
const USERS_PER_ORG = 50;
const INSTANCE = 'bench';
const ZONE = 'Europe/Warsaw';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Mean, p50 and p99 per call in nanoseconds, timing each call on its own. */
function timeEach(count: number, call: (i: number) => unknown): { meanNs: number; p50Ns: number; p99Ns: number } {
  const samples = new Array<number>(count);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    call(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  const total = Number(process.hrtime.bigint() - started);
  samples.sort((a, b) => a - b);
  return { meanNs: Math.round(total / count), p50Ns: percentile(samples, 50), p99Ns: percentile(samples, 99) };
}

async function timeEachAsync(count: number, call: (i: number) => Promise<unknown>) {
  const samples = new Array<number>(count);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  const total = Number(process.hrtime.bigint() - started);
  samples.sort((a, b) => a - b);
  return { meanNs: Math.round(total / count), p50Ns: percentile(samples, 50), p99Ns: percentile(samples, 99) };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mai-limits-bench-'));
  const db = createDb({ client: 'sqlite', path: join(dir, 'bench.db') });
  const logger = pino({ level: 'silent' });
  try {
    await db.migrate.latest();
    const at = new Date().toISOString();
    const users: string[] = [];
    for (let o = 0; o < ORGS; o++) {
      const orgId = `org_bench_${o}`;
      await insertOrganization(db, {
        id: orgId,
        instanceId: INSTANCE,
        name: `Bench org ${o}`,
        isDefault: false,
        active: true,
        markupRatePpm: 1_300_000n,
        monthlyLimitNanoUsd: 1_000_000_000_000n,
        billingContactName: null,
        billingContactEmail: null,
        openRouterKeyEncrypted: null,
        openRouterKeySha256: null,
        openRouterKeyLabel: null,
        openRouterKeyHash: null,
        createdAt: at,
        updatedAt: at,
      });
      for (let u = 0; u < USERS_PER_ORG; u++) {
        const userId = `user_${o}_${u}`;
        users.push(userId);
        await upsertUserMapping(db, {
          instanceId: INSTANCE,
          userId,
          clientOrgId: orgId,
          openRouterUserId: userId,
          userEmail: null,
          userName: null,
          active: true,
          monthlyLimitNanoUsd: u % 5 === 0 ? 50_000_000_000n : null,
          source: 'manual',
          createdAt: at,
          updatedAt: at,
        });
      }
    }
    const ledger = createLedger({
      db,
      instanceId: INSTANCE,
      billingTimeZone: ZONE,
      defaultMarkupRatePpm: async () => 1_300_000n,
      logger,
    });
    const events: LedgerInput[] = users.flatMap((userId, i) =>
      Array.from({ length: 20 }, (_, n) => ({
        kind: 'completion' as const,
        eventId: `gen-bench-${i}-${n}`,
        source: 'filter' as const,
        occurredAt: new Date(Date.now() - n * 3_600_000).toISOString(),
        user: { id: userId, email: null, name: null },
        clientOrgId: null,
        model: 'bench/model',
        channel: 'ui',
        generationId: null,
        chatId: null,
        messageId: null,
        externalUser: null,
        reason: null,
        inputTokens: 100,
        outputTokens: 50,
        cachedTokens: 0,
        reasoningTokens: 0,
        providerCostNanoUsd: 1_234_567n,
        upstreamCostNanoUsd: null,
        isByok: false,
      })),
    );
    await ledger.record(events);

    const limits = createLimitState({
      db,
      instanceId: INSTANCE,
      billingTimeZone: ZONE,
      logger,
      now: () => new Date(),
      onLevels: () => undefined, // the alerts' listener, here doing nothing
    });
    let queries = 0;
    db.on('query', () => (queries += 1));
    const loadStarted = process.hrtime.bigint();
    for (const userId of users) await limits.check(userId);
    const loadMs = Number(process.hrtime.bigint() - loadStarted) / 1e6;
    const loadQueries = queries;

    queries = 0;
    // Warm the JIT, then measure.
    for (let i = 0; i < 20_000; i++) limits.checkFromMemory(users[i % users.length]!);
    const fromMemory = timeEach(CHECKS, (i) => limits.checkFromMemory(users[(i * 7919) % users.length]!));
    const viaPromise = await timeEachAsync(CHECKS, (i) => limits.check(users[(i * 7919) % users.length]!));
    const checkQueries = queries;

    const today = new Date().toISOString().slice(0, 10);
    const committed = (i: number): CommittedUsage[] => [
      {
        eventId: `gen-bench-apply-${i}`,
        clientOrgId: `org_bench_${i % ORGS}`,
        userId: `user_${i % ORGS}_${i % USERS_PER_ORG}`,
        usageDay: today,
        billedCostNanoUsd: 1_604_937n,
      },
    ];
    const apply = timeEach(CHECKS, (i) => limits.applyCommitted(committed(i)));

    const result = {
      orgs: ORGS,
      users: users.length,
      checks: CHECKS,
      firstLoad: { ms: Math.round(loadMs), queries: loadQueries },
      checkFromMemory: fromMemory,
      checkAsync: viaPromise,
      applyCommittedOneEvent: apply,
      queriesDuringTimedChecks: checkQueries,
      node: process.version,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
