import type { RequestListener } from 'node:http';
import type { Knex } from 'knex';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../app.js';
import { loadConfig } from '../../config.js';
import { isPostgres } from '../../db/dialect.js';
import { createDb } from '../../db/knex.js';
import { migrationSource } from '../../db/migrations/index.js';
import { takeMigrationTurn } from '../../db/migrator.js';
import { assembleDeps, type AppDeps } from '../../deps.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../../test-support/databases.js';
import { ADMIN_TOKEN, ENCRYPTION_KEY, INGEST_TOKEN, completionEvent } from '../../test-support/harness.js';

/**
 * DESIGN §2: when migrations cannot run — the Knex lock held by another process, or a failing
 * step — the sidecar still starts, takes usage through the backlog, says degraded on /readyz,
 * retries, and once migrated rolls the backlog up: no event lost, none doubled.
 */

type Degraded = { app: RequestListener; deps: AppDeps; db: Knex; database: TestDatabase; close(): Promise<void> };

async function buildApp(
  kind: 'sqlite' | 'postgres',
  migrations: NonNullable<Parameters<typeof assembleDeps>[0]['migrations']>,
  prepare: (db: Knex) => Promise<void>,
): Promise<Degraded> {
  const database = await createTestDatabase(kind);
  const config = loadConfig({
    INGEST_TOKEN,
    ADMIN_TOKEN,
    ENCRYPTION_KEY,
    LOG_LEVEL: 'silent',
    INSTANCE_ID: 'tenant-x',
    ...(database.database.client === 'pg'
      ? { DATABASE_URL: database.database.url }
      : { DATABASE_PATH: database.database.path }),
  });
  const db = createDb(config.database);
  await prepare(db);
  const deps = assembleDeps({ config, db, logger: pino({ level: 'silent' }), migrations });
  const app = createApp(deps);
  return {
    app,
    deps,
    db,
    database,
    close: async () => {
      deps.migrator.stop();
      await deps.ledger.drain();
      await db.destroy();
      await database.drop();
    },
  };
}

const ingest = (app: RequestListener, events: unknown[]) =>
  request(app).post('/api/v1/ingest/events').set('authorization', `Bearer ${INGEST_TOKEN}`).send({ events });

const statusesOf = (res: request.Response) => res.body.results.map((r: { status: string }) => r.status);

async function waitForReady(app: RequestListener, timeoutMs = 15_000): Promise<request.Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(app).get('/readyz');
    if (res.status === 200 || Date.now() > until) return res;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The rollup recomputed from the ledger, and as stored: they must be equal row for row. */
async function rollupAndLedger(db: Knex) {
  const keys = ['client_org_id', 'usage_day', 'user_id', 'model'];
  const sums = [
    'input_tokens',
    'output_tokens',
    'cached_tokens',
    'reasoning_tokens',
    'raw_cost_nano_usd',
    'billed_cost_nano_usd',
  ];
  const fromLedger: Record<string, unknown>[] = await db('usage_events')
    .select(keys)
    .select(db.raw("CAST(SUM(CASE WHEN source = 'manual' THEN 0 ELSE 1 END) AS TEXT) AS requests"))
    .select(sums.map((column) => db.raw('CAST(SUM(??) AS TEXT) AS ??', [column, column])))
    .select(db.raw("CAST(SUM(CASE WHEN cost_status = 'pending' THEN 1 ELSE 0 END) AS TEXT) AS pending_cost_requests"))
    .groupBy(keys)
    .orderBy(keys);
  const stored: Record<string, unknown>[] = await db('usage_daily')
    .select(keys)
    .select(
      ['requests', ...sums, 'pending_cost_requests'].map((column) =>
        db.raw('CAST(?? AS TEXT) AS ??', [column, column]),
      ),
    )
    .orderBy(keys);
  return { fromLedger, stored };
}

const events = [
  completionEvent({ event_id: 'gen-deg-1', user: { id: 'u-a', email: 'a@x.example', name: 'A' } }),
  completionEvent({ event_id: 'gen-deg-2', user: { id: 'u-b', email: 'b@x.example', name: 'B' } }),
  completionEvent({
    event_id: 'gen-deg-3',
    user: { id: 'u-a', email: 'a@x.example', name: 'A' },
    usage: { input_tokens: 7, output_tokens: 3 }, // no cost: pending
  }),
  completionEvent({
    event_id: 'gen-deg-4',
    occurred_at: '2026-03-11T23:30:00Z', // 12 March in Warsaw
    user: { id: 'u-c', email: 'c@x.example', name: 'C' },
    usage: { input_tokens: 1, output_tokens: 2, cost_usd: '0.000000005' },
  }),
];
const started = {
  event_id: 'start-deg-1',
  kind: 'generation_started',
  generation_id: 'gen-deg-aborted',
  occurred_at: '2026-03-10T10:00:00Z',
  user: { id: 'u-b', email: 'b@x.example', name: 'B' },
  model: 'openai/gpt-4o-mini',
  channel: 'ui',
};

/**
 * Another process's migration, in progress on a brand-new database until the returned function
 * ends it: on PostgreSQL it holds the migrators' turn; on SQLite, Knex's migration lock (as one
 * that died holding it would leave it).
 */
async function holdMigrations(db: Knex): Promise<() => Promise<void>> {
  if (!isPostgres(db)) {
    await db.migrate.list();
    await db('knex_migrations_lock').update({ is_locked: 1 });
    return async () => {
      await db('knex_migrations_lock').update({ is_locked: 0 });
    };
  }
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let taken: () => void = () => undefined;
  const turnTaken = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const holding = db.transaction(async (turn) => {
    await takeMigrationTurn(turn);
    taken();
    await released;
  });
  await turnTaken;
  return async () => {
    release();
    await holding;
  };
}

/** Ingests while degraded: everything is answered recorded (once) and stored in the backlog. */
async function ingestWhileDegraded(t: Degraded) {
  expect(statusesOf(await ingest(t.app, [events[0], events[1], events[0]]).expect(200))).toEqual([
    'recorded',
    'recorded',
    'duplicate',
  ]);
  // Concurrent callers are grouped: still one row per id.
  const [a, b] = await Promise.all([ingest(t.app, [events[2], started]), ingest(t.app, [events[3], events[1]])]);
  expect(statusesOf(a)).toEqual(['recorded', 'recorded']);
  expect(statusesOf(b)).toEqual(['recorded', 'duplicate']);
  // A replay while degraded answers duplicate too.
  expect(statusesOf(await ingest(t.app, [events[2]]).expect(200))).toEqual(['duplicate']);
  const backlog = await t.db('ledger_backlog').where({ instance_id: 'tenant-x' }).count({ n: '*' });
  expect(Number(backlog[0]?.n)).toBe(5);
}

async function expectCaughtUp(t: Degraded, expectedEvents: number) {
  const ready = await waitForReady(t.app);
  expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  expect(ready.body).toMatchObject({ status: 'ready', migrations: { state: 'done', error: null } });
  expect(ready.body.ledger).toEqual({ write_path: 'ledger' });
  expect(await t.db('ledger_backlog').count({ n: '*' })).toEqual([{ n: isPostgres(t.db) ? '0' : 0 }]);
  const [count] = await t.db('usage_events').count({ n: '*' });
  expect(Number(count?.n)).toBe(expectedEvents);
  const { fromLedger, stored } = await rollupAndLedger(t.db);
  expect(stored).toEqual(fromLedger);
  expect(await t.db('generation_starts').where({ generation_id: 'gen-deg-aborted' }).select('user_id')).toEqual([
    { user_id: 'u-b' },
  ]);
  // Replays after catching up are duplicates and change nothing.
  expect(statusesOf(await ingest(t.app, [...events, started]).expect(200))).toEqual(Array(5).fill('duplicate'));
  expect((await rollupAndLedger(t.db)).stored).toEqual(stored);
  // Money as the normal path computes it (1.3 markup, snapshotted at roll-up).
  expect(
    await t
      .db('usage_events')
      .where({ event_id: 'gen-deg-4' })
      .select('usage_day', 'raw_cost_nano_usd', 'billed_cost_nano_usd'),
  ).toMatchObject([{ usage_day: '2026-03-12' }]);
  const [row] = await t.db('usage_events').where({ event_id: 'gen-deg-4' }).select('billed_cost_nano_usd');
  expect(String(row?.billed_cost_nano_usd)).toBe('7');
}

describe.each(databaseKinds)('degraded migrations on %s', (kind) => {
  let t: Degraded | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('starts while another process is migrating, takes usage, and catches up when it is done', async () => {
    let letGo: () => Promise<void> = async () => undefined;
    t = await buildApp(kind, { retryBaseMs: 50, retryMaxMs: 200 }, async (db) => {
      letGo = await holdMigrations(db);
    });
    expect(await t.deps.migrator.start({ firstAttemptTimeoutMs: 300 })).toBe(false);
    const degraded = await request(t.app).get('/readyz').expect(503);
    expect(degraded.body).toMatchObject({
      status: 'degraded',
      // PostgreSQL: waiting for its turn; SQLite: Knex's lock held, retried.
      migrations: { state: 'pending', error: expect.stringMatching(kind === 'postgres' ? /still running/ : /locked/) },
      ledger: { write_path: 'backlog' },
    });
    expect(await t.db.schema.hasTable('usage_events')).toBe(false);

    await ingestWhileDegraded(t);
    // Still held: nothing is lost meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await request(t.app).get('/readyz').expect(503)).body.migrations.state).toBe('pending');

    await letGo();
    await expectCaughtUp(t, 4);
  });

  it('starts when a migration step fails, takes usage, and catches up when the retry succeeds', async () => {
    let failuresLeft = 1;
    const flakyName = '20991231000000_flaky_step';
    const flakySource: Knex.MigrationSource<string> = {
      getMigrations: async (extensions) => [...(await migrationSource.getMigrations(extensions)), flakyName],
      getMigrationName: (name) => name,
      getMigration: async (name) => {
        if (name !== flakyName) return migrationSource.getMigration(name);
        return {
          up: async (knex: Knex) => {
            await knex.raw('SELECT 1');
            if (failuresLeft-- > 0) throw new Error('flaky step failed');
          },
          down: async () => undefined,
        };
      },
    };
    t = await buildApp(kind, { migrationConfig: { migrationSource: flakySource }, retryBaseMs: 60_000 }, async (db) => {
      await db.migrate.latest(); // everything but the flaky step has landed before
    });
    // Usage recorded normally before the failing upgrade: replays of it stay duplicates while degraded.
    const before = completionEvent({ event_id: 'gen-deg-before', user: { id: 'u-a', email: null, name: null } });
    expect(statusesOf(await ingest(t.app, [before]).expect(200))).toEqual(['recorded']);

    expect(await t.deps.migrator.start()).toBe(false);
    const degraded = await request(t.app).get('/readyz').expect(503);
    expect(degraded.body).toMatchObject({
      status: 'degraded',
      migrations: { state: 'failed', error: 'flaky step failed' },
      ledger: { write_path: 'backlog' },
    });
    await ingestWhileDegraded(t);
    expect(statusesOf(await ingest(t.app, [before]).expect(200))).toEqual(['duplicate']);

    // The retry (here called now rather than after the backoff) succeeds and rolls the backlog up.
    expect(await t.deps.migrator.attempt()).toBe(true);
    await expectCaughtUp(t, 5);
    const [flaky] = await t.db('knex_migrations').where({ name: flakyName }).count({ n: '*' });
    expect(Number(flaky?.n)).toBe(1);
  });

  it('falls back to the backlog when the normal write finds the schema behind, and rolls up after migrating', async () => {
    t = await buildApp(kind, { retryBaseMs: 60_000 }, async (db) => {
      await db.migrate.latest();
    });
    expect(await t.deps.migrator.start()).toBe(true);
    // As if someone had moved the rollup away by hand: the normal write fails for a schema reason.
    await t.db.schema.renameTable('usage_daily', 'usage_daily_moved');
    expect(statusesOf(await ingest(t.app, [events[0], events[1]]).expect(200))).toEqual(['recorded', 'recorded']);
    expect((await request(t.app).get('/readyz').expect(503)).body.ledger).toEqual({ write_path: 'backlog' });
    expect(await t.db('usage_events').count({ n: '*' })).toEqual([{ n: kind === 'postgres' ? '0' : 0 }]);
    await t.db.schema.renameTable('usage_daily_moved', 'usage_daily');
    expect(await t.deps.migrator.attempt()).toBe(true);
    expect((await request(t.app).get('/readyz').expect(200)).body.ledger).toEqual({ write_path: 'ledger' });
    const { fromLedger, stored } = await rollupAndLedger(t.db);
    expect(stored).toEqual(fromLedger);
    expect(fromLedger).toHaveLength(2);
  });
});
