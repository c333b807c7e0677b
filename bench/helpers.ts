/** The pieces run.ts is made of: child processes, the sidecar's HTTP API, data generation. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ORGS, eventFactory, type BenchUser } from './fleet.js';
import { percentile, round } from './load.js';

export const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export async function waitUntilUp(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was up`);
    try {
      const res = await fetch(url);
      if (res.ok || res.status === 404) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within 60 s`);
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Peak and current resident set of a process, MB, from /proc. */
export function memoryOf(pid: number): { peak_rss_mb: number; rss_mb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak_rss_mb: round(kb('VmHWM') / 1024, 1), rss_mb: round(kb('VmRSS') / 1024, 1) };
}

export async function call(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function createFleet(base: string, adminToken: string, users: BenchUser[]): Promise<string[]> {
  const orgIds: string[] = [];
  for (let org = 0; org < ORGS; org++) {
    const res = await call(base, adminToken, 'POST', '/api/v1/client-organizations/clients', {
      name: `Bench Client ${String(org + 1).padStart(2, '0')}`,
      markup_rate: (1.2 + org / 100).toFixed(2),
      monthly_limit_usd: 5000,
    });
    if (res.status !== 201) throw new Error(`creating an org answered ${res.status}: ${JSON.stringify(res.json)}`);
    orgIds.push(String(res.json.id));
  }
  for (const user of users) {
    const res = await call(base, adminToken, 'POST', '/api/v1/client-organizations/user-mappings', {
      user_id: user.id,
      client_org_id: orgIds[user.org],
      user_email: user.email,
      user_name: user.name,
    });
    if (res.status !== 201) throw new Error(`mapping a user answered ${res.status}: ${JSON.stringify(res.json)}`);
  }
  return orgIds;
}

export type GenerationResult = {
  events: number;
  requests: number;
  seconds: number;
  events_per_s: number;
  from: string;
  to: string;
};

/** A year of usage, oldest first, through the real ingest path in 500-event batches. */
export async function generateYear(
  base: string,
  ingestToken: string,
  users: BenchUser[],
  options: { events: number; batch: number; connections: number },
): Promise<GenerationResult> {
  const { events: EVENTS, batch: GENERATE_BATCH, connections: GENERATE_CONNECTIONS } = options;
  const make = eventFactory(users, 1, 'y');
  const to = Date.now() - 60_000;
  const from = to - 365 * 86_400_000;
  const step = (to - from) / EVENTS;
  const batches = Math.ceil(EVENTS / GENERATE_BATCH);
  let next = 0;
  let recorded = 0;
  const started = performance.now();
  let lastReport = started;
  const worker = async () => {
    for (;;) {
      const batch = next++;
      if (batch >= batches) return;
      const first = batch * GENERATE_BATCH;
      const count = Math.min(GENERATE_BATCH, EVENTS - first);
      const events = Array.from({ length: count }, (_, i) => make(from + (first + i) * step));
      const res = await fetch(`${base}/api/v1/ingest/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      const body = (await res.json()) as { recorded?: number };
      if (res.status !== 200 || body.recorded !== count) {
        throw new Error(`ingest answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      }
      recorded += count;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(`  … ${recorded.toLocaleString('en')} events`);
      }
    }
  };
  await Promise.all(Array.from({ length: GENERATE_CONNECTIONS }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    events: recorded,
    requests: batches,
    seconds: round(seconds, 1),
    events_per_s: Math.round(recorded / seconds),
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
  };
}

export type QueryResult = {
  requests: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  bytes: number;
};

/**
 * Sequential GETs (one at a time: latency, not throughput), after a short warm-up, over one
 * keep-alive connection with node:http, the body drained and counted but not decoded: the time
 * is the server's. (fetch's consumption of a streamed megabyte-sized export cost the client
 * 8–14 ms on a 2-core machine, where the client shares the CPU with the server.)
 */
export async function measureQuery(
  base: string,
  adminToken: string,
  path: string,
  requests: number,
): Promise<QueryResult> {
  const QUERY_REQUESTS = requests;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<{ ms: number; bytes: number }>((resolve, reject) => {
      const started = performance.now();
      const request = http.get(
        `${base}${path}`,
        { agent, headers: { authorization: `Bearer ${adminToken}` } },
        (res) => {
          let bytes = 0;
          const head: Buffer[] = [];
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (res.statusCode !== 200 && head.length < 4) head.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const ms = performance.now() - started;
            if (res.statusCode !== 200) {
              reject(
                new Error(`GET ${path} answered ${res.statusCode}: ${Buffer.concat(head).toString().slice(0, 300)}`),
              );
            } else resolve({ ms, bytes });
          });
        },
      );
      request.on('error', reject);
    });
  for (let i = 0; i < 10; i++) await once();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < QUERY_REQUESTS; i++) {
    const result = await once();
    times.push(result.ms);
    bytes = result.bytes;
  }
  agent.destroy();
  const sorted = Float64Array.from(times).sort();
  return {
    requests: QUERY_REQUESTS,
    p50_ms: round(percentile(sorted, 0.5)),
    p95_ms: round(percentile(sorted, 0.95)),
    p99_ms: round(percentile(sorted, 0.99)),
    max_ms: round(sorted[sorted.length - 1]!),
    bytes,
  };
}

export type Sidecar = {
  child: ChildProcess;
  pid: number;
  base: string;
  databasePath: string;
  ingestToken: string;
  adminToken: string;
};

/** The real server, as `npm start` runs it (built dist/), on a fresh SQLite file in `dir`. */
export async function startSidecar(root: string, dir: string, nodeArgs: string[] = []): Promise<Sidecar> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const databasePath = join(dir, 'bench.db');
  const ingestToken = randomBytes(24).toString('base64url');
  const adminToken = randomBytes(24).toString('base64url');
  const child = spawn(process.execPath, [...nodeArgs, 'dist/sidecar/src/main.js'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_PATH: databasePath,
      DATA_DIR: dir,
      INGEST_TOKEN: ingestToken,
      ADMIN_TOKEN: adminToken,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
      // The read API's per-token rate limit would otherwise throttle the report measurements.
      RATE_LIMIT_PER_MINUTE: '1000000',
      OPENROUTER_USAGE_SYNC_INTERVAL: '0',
      NODE_ENV: 'production',
    },
  });
  await waitUntilUp(`${base}/healthz`, child, 'the sidecar');
  return { child, pid: child.pid!, base, databasePath, ingestToken, adminToken };
}
