import type { RequestListener } from 'node:http';
import type { Knex } from 'knex';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { assembleDeps, type AppDeps } from '../deps.js';
import { createDb } from '../db/knex.js';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { startOpenWebUiStandIn, type OpenWebUiStandIn, type StandInUser } from './open-webui-stand-in.js';

export const INGEST_TOKEN = 'test-ingest-token-0123456789';
export const ADMIN_TOKEN = 'test-operator-token-0123456789';
export const ENCRYPTION_KEY = '0'.repeat(63) + '1';

/** Tokens the Open WebUI stand-in knows, one per role. */
export const openWebUiUsers: Record<string, StandInUser> = {
  'owui-admin-token': { id: 'admin-1', email: 'admin@client.example', name: 'Ada Admin', role: 'admin' },
  'owui-user-token': { id: 'user-1', email: 'user1@client.example', name: 'Uma User', role: 'user' },
  'owui-user2-token': { id: 'user-2', email: 'user2@client.example', name: 'Otto Other', role: 'user' },
  'owui-pending-token': { id: 'pending-1', email: 'p@client.example', name: 'Pat Pending', role: 'pending' },
};

export type TestApp = {
  app: RequestListener;
  deps: AppDeps;
  db: Knex;
  config: Config;
  openWebUi: OpenWebUiStandIn;
  database: TestDatabase;
  /** supertest with a Bearer token already set. */
  as(token: string): {
    get(path: string): request.Test;
    post(path: string): request.Test;
    patch(path: string): request.Test;
    delete(path: string): request.Test;
  };
  /** POST /api/v1/ingest/events with the ingest token: how tests record usage through the real path. */
  ingest(body: { events: unknown[] }): request.Test;
  /** Sets the clock the app reads (billing days, "today"). */
  setNow(at: Date | string): void;
  close(): Promise<void>;
};

/** A migrated app on a fresh real database, built with createApp (no listening socket). */
export async function createTestApp(
  kind: 'sqlite' | 'postgres',
  options: { env?: Record<string, string>; now?: Date | string } = {},
): Promise<TestApp> {
  const database = await createTestDatabase(kind);
  const openWebUi = await startOpenWebUiStandIn(openWebUiUsers);
  const env: Record<string, string> = {
    INGEST_TOKEN,
    ADMIN_TOKEN,
    ENCRYPTION_KEY,
    OPENWEBUI_URL: openWebUi.url,
    LOG_LEVEL: 'silent',
    ...(database.database.client === 'pg'
      ? { DATABASE_URL: database.database.url }
      : { DATABASE_PATH: database.database.path }),
    ...options.env,
  };
  const config = loadConfig(env);
  const db = createDb(config.database);
  await db.migrate.latest();
  let now = options.now ? new Date(options.now) : new Date();
  const deps = assembleDeps({ config, db, logger: pino({ level: 'silent' }), now: () => now });
  deps.health.migrations = { state: 'done', error: null, version: await db.migrate.currentVersion() };
  const app = createApp(deps);
  const as = (token: string) => {
    const agent = request(app);
    const auth = (test: request.Test) => test.set('authorization', `Bearer ${token}`);
    return {
      get: (path: string) => auth(agent.get(path)),
      post: (path: string) => auth(agent.post(path)),
      patch: (path: string) => auth(agent.patch(path)),
      delete: (path: string) => auth(agent.delete(path)),
    };
  };
  return {
    app,
    deps,
    db,
    config,
    openWebUi,
    database,
    as,
    ingest: (body) => as(INGEST_TOKEN).post('/api/v1/ingest/events').send(body),
    setNow: (at) => {
      now = new Date(at);
    },
    close: async () => {
      await deps.ledger.drain();
      await db.destroy();
      await openWebUi.close();
      await database.drop();
    },
  };
}

/** A valid filter event; override any field. */
export function completionEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `gen-${Math.random().toString(36).slice(2)}`,
    kind: 'completion',
    occurred_at: '2026-03-10T10:00:00Z',
    user: { id: 'user-1', email: 'user1@client.example', name: 'Uma User', role: 'user' },
    model: 'openai/gpt-4o-mini',
    channel: 'ui',
    usage: { input_tokens: 100, output_tokens: 60, cost_usd: 0.003224 },
    ...overrides,
  };
}
