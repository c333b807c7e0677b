import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../sidecar/src/test-support/databases.js';
import { startOpenWebUiStandIn, type OpenWebUiStandIn } from '../../sidecar/src/test-support/open-webui-stand-in.js';
import { createFakeNbp, type FakeNbp } from '../fakes/nbp/fake-nbp.js';

/**
 * Many tenants, one PostgreSQL (DESIGN §7, issue 6): three sidecar processes — the built
 * dist/sidecar/src/main.js, one per Open WebUI instance — start at once against one fresh
 * database and take turns at its migrations. One migrates; the others wait for it or run
 * degraded and catch up; all end ready. Each ingests usage for its own users; each instance's
 * admin sees only its orgs; the operator sees every org, and the cross-tenant billing statement
 * adds up to the three ledgers exactly.
 */

const root = new URL('../../', import.meta.url).pathname;
const mainJs = join(root, 'dist/sidecar/src/main.js');
const OPERATOR_TOKEN = 'multi-tenant-operator-token-0123';
const INGEST_TOKEN = 'multi-tenant-ingest-token-012345';
const ENCRYPTION_KEY = 'ab'.repeat(32); // one key: the tenants share the database's encrypted columns
const MONTH = '2026-03';

type IngestAnswer = { recorded: number; duplicates: number };
type ClientList = { clients: { id: string }[] };
type StatementTotals = { cost_nano_usd: string; raw_cost_nano_usd?: string; requests: number };
type Statement = {
  clients: (StatementTotals & { client_org_id: string })[];
  totals: StatementTotals & { statement_pln: { complete: boolean } };
};

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

type Tenant = {
  id: string;
  port: number;
  url: string;
  adminToken: string;
  openWebUi: OpenWebUiStandIn;
  process: ChildProcess;
  output: string[];
  dataDir: string;
};

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** `npm run build` compiles the sidecar into dist/; redone here only when a source is newer. */
function ensureBuilt(): void {
  const built = statSync(mainJs, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built >= newestSource(join(root, 'sidecar/src'))) return;
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function call(url: string, token: string | null, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    ...init,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
}

async function waitReady(tenant: Tenant, timeoutMs: number): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < until) {
    if (tenant.process.exitCode !== null) break;
    try {
      const res = await call(`${tenant.url}/readyz`, null);
      last = await res.json();
      if (res.status === 200) return last as Record<string, unknown>;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${tenant.id} not ready: ${JSON.stringify(last)}\nexit ${tenant.process.exitCode}\n${tenant.output.join('').slice(-4000)}`,
  );
}

function event(tenant: string, n: number, user: string) {
  return {
    event_id: `gen-${tenant}-${n}`,
    kind: 'completion',
    occurred_at: `${MONTH}-${String(10 + (n % 5)).padStart(2, '0')}T${String(8 + (n % 9)).padStart(2, '0')}:15:00Z`,
    user: { id: user, email: `${user}@${tenant}.example`, name: user, role: 'user' },
    model: n % 2 ? 'openai/gpt-4o-mini' : 'anthropic/claude-3.5-haiku',
    channel: n % 3 ? 'ui' : 'api',
    usage: { input_tokens: 100 + n, output_tokens: 50 + n, cost_usd: `0.00${String(1000 + n * 37)}` },
  };
}

describe('three sidecars, one PostgreSQL', () => {
  let database: TestDatabase;
  let db: Knex;
  let nbp: FakeNbp;
  const tenants: Tenant[] = [];

  beforeAll(async () => {
    ensureBuilt();
    database = await createTestDatabase('postgres');
    if (database.database.client !== 'pg') throw new Error('expected PostgreSQL');
    db = knex({ client: 'pg', connection: database.database.url, pool: { min: 0, max: 2 } });
    nbp = await createFakeNbp();
    for (const id of ['tenant-a', 'tenant-b', 'tenant-c']) {
      const adminToken = `owui-${id}-admin`;
      const openWebUi = await startOpenWebUiStandIn({
        [adminToken]: { id: `${id}-admin`, email: `admin@${id}.example`, name: 'Admin', role: 'admin' },
      });
      const port = await freePort();
      tenants.push({
        id,
        port,
        url: `http://127.0.0.1:${port}`,
        adminToken,
        openWebUi,
        process: undefined as unknown as ChildProcess,
        output: [],
        dataDir: mkdtempSync(join(tmpdir(), `mai-usage-${id}-`)),
      });
    }
    // All three at once: they race for the migrations.
    for (const tenant of tenants) {
      tenant.process = spawn(process.execPath, [mainJs], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          PORT: String(tenant.port),
          HOST: '127.0.0.1',
          INSTANCE_ID: tenant.id,
          DATABASE_URL: database.database.url,
          DATA_DIR: tenant.dataDir,
          INGEST_TOKEN,
          ADMIN_TOKEN: OPERATOR_TOKEN,
          ENCRYPTION_KEY,
          OPENWEBUI_URL: tenant.openWebUi.url,
          NBP_API_BASE: nbp.url,
          OPENROUTER_API_BASE: 'http://127.0.0.1:9', // never reached: sync is off
          OPENROUTER_USAGE_SYNC_INTERVAL: '0',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      tenant.process.stdout?.on('data', (chunk: Buffer) => tenant.output.push(chunk.toString()));
      tenant.process.stderr?.on('data', (chunk: Buffer) => tenant.output.push(chunk.toString()));
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      tenants.map(async (tenant) => {
        if (tenant.process && tenant.process.exitCode === null) {
          const exited = new Promise((resolve) => tenant.process.once('exit', resolve));
          tenant.process.kill('SIGTERM');
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
          if (tenant.process.exitCode === null) tenant.process.kill('SIGKILL');
        }
        await tenant.openWebUi.close();
        rmSync(tenant.dataDir, { recursive: true, force: true });
      }),
    );
    await db?.destroy();
    await nbp?.close();
    await database?.drop();
  }, 60_000);

  it('all start against one fresh database and end ready, migrated once', async () => {
    for (const tenant of tenants) {
      const ready = await waitReady(tenant, 60_000);
      expect(ready).toMatchObject({ status: 'ready', migrations: { state: 'done', error: null } });
    }
    const migrations: { name: string }[] = await db('knex_migrations').select('name');
    expect(new Set(migrations.map((m) => m.name)).size).toBe(migrations.length); // none ran twice
    expect(await db('knex_migrations_lock').select('is_locked')).toEqual([{ is_locked: 0 }]);
  }, 90_000);

  it('each ingests its own users; admins see only their orgs; the operator bills them all exactly', async () => {
    // Concurrent ingest into all three, some events sent twice (replays).
    await Promise.all(
      tenants.map(async (tenant, index) => {
        const events = Array.from({ length: 12 + index * 5 }, (_, n) =>
          event(tenant.id, n, `${tenant.id}-user-${n % (2 + index)}`),
        );
        for (let i = 0; i < events.length; i += 4) {
          const res = await call(`${tenant.url}/api/v1/ingest/events`, INGEST_TOKEN, {
            method: 'POST',
            body: JSON.stringify({ events: events.slice(i, i + 4) }),
          });
          expect(res.status).toBe(200);
          expect((await json<IngestAnswer>(res)).recorded).toBe(events.slice(i, i + 4).length);
        }
        const replay = await call(`${tenant.url}/api/v1/ingest/events`, INGEST_TOKEN, {
          method: 'POST',
          body: JSON.stringify({ events: events.slice(0, 3) }),
        });
        expect((await json<IngestAnswer>(replay)).duplicates).toBe(3);
      }),
    );

    // The three ledgers, straight from the database.
    const ledgers = new Map<string, { events: number; billed: bigint; raw: bigint }>();
    for (const tenant of tenants) {
      const [row] = (await db('usage_events as e')
        .join('client_organizations as o', 'o.id', 'e.client_org_id')
        .where('o.instance_id', tenant.id)
        .select(
          db.raw('COUNT(*) AS n'),
          db.raw('CAST(SUM(e.billed_cost_nano_usd) AS TEXT) AS billed'),
          db.raw('CAST(SUM(e.raw_cost_nano_usd) AS TEXT) AS raw'),
        )) as { n: string; billed: string; raw: string }[];
      if (!row) throw new Error(`no ledger rows for ${tenant.id}`);
      ledgers.set(tenant.id, { events: Number(row.n), billed: BigInt(row.billed), raw: BigInt(row.raw) });
      expect(Number(row.n)).toBe(12 + tenants.indexOf(tenant) * 5);
    }

    // Each instance's admin: its own org only, in the org list and in billing.
    for (const tenant of tenants) {
      const clients = await json<ClientList>(
        call(`${tenant.url}/api/v1/client-organizations/clients`, tenant.adminToken),
      );
      expect(clients.clients.map((c) => c.id)).toEqual([`org_default_${tenant.id}`]);
      const billing = await call(
        `${tenant.url}/api/v1/client-organizations/usage/billing?month=${MONTH}`,
        tenant.adminToken,
      );
      expect(billing.status).toBe(200);
      const body = await json<Statement>(billing);
      expect(body.clients.map((c) => c.client_org_id)).toEqual([`org_default_${tenant.id}`]);
      expect(body.totals.cost_nano_usd).toBe(ledgers.get(tenant.id)!.billed.toString());
      expect(body.totals.raw_cost_nano_usd).toBeUndefined(); // raw cost is the operator's
    }

    // The operator, through any one of the sidecars: every org and the cross-tenant statement.
    for (const via of tenants) {
      const clients = await json<ClientList>(call(`${via.url}/api/v1/client-organizations/clients`, OPERATOR_TOKEN));
      expect(clients.clients.map((c) => c.id).sort()).toEqual(tenants.map((t) => `org_default_${t.id}`).sort());
    }
    const statement = await json<Statement>(
      call(`${tenants[1]!.url}/api/v1/client-organizations/usage/billing?month=${MONTH}`, OPERATOR_TOKEN),
    );
    const sum = (pick: (l: { events: number; billed: bigint; raw: bigint }) => bigint) =>
      [...ledgers.values()].reduce((total, ledger) => total + pick(ledger), 0n).toString();
    expect(statement.totals.cost_nano_usd).toBe(sum((l) => l.billed));
    expect(statement.totals.raw_cost_nano_usd).toBe(sum((l) => l.raw));
    expect(statement.totals.requests).toBe([...ledgers.values()].reduce((n, l) => n + l.events, 0));
    for (const tenant of tenants) {
      const line = statement.clients.find((c) => c.client_org_id === `org_default_${tenant.id}`);
      expect(line?.cost_nano_usd).toBe(ledgers.get(tenant.id)!.billed.toString());
      expect(line?.requests).toBe(ledgers.get(tenant.id)!.events);
    }
    // PLN per day at NBP table A: every day has a rate, so the statement is complete.
    expect(statement.totals.statement_pln.complete).toBe(true);
  }, 60_000);
});
