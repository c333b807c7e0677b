/**
 * `npm run bench`: one run, on this machine, of everything issue 2 item 10 asks for.
 *
 *  1. builds the sidecar and starts the real server (`node dist/sidecar/src/main.js`) on a fresh
 *     SQLite file in a temp directory, LOG_LEVEL=warn;
 *  2. ceilings: the raw sqlite3 multi-row insert rate into a copy of usage_events, and a bare
 *     Express 5 JSON endpoint in a child process under the same load generator (autocannon);
 *  3. creates 20 orgs, maps 20 users to each, and ingests a year of usage (≥ 1,000,000 events,
 *     30 models) through POST /api/v1/ingest/events in 500-event batches;
 *  4. measures (a) single-event ingest at concurrency 32, (b) 100-event batches, (c) p95 latency
 *     of the month reports for one org, (d) the sidecar's peak RSS (VmHWM);
 *  5. prints a table with PASS/FAIL per target and writes bench/results/latest.json.
 *
 * It is a measurement: it exits 0 whether targets pass or not (non-zero only if it cannot run).
 * Knobs (environment): BENCH_EVENTS (1000000), BENCH_SECONDS (20 per load test),
 * BENCH_QUERY_REQUESTS (200 per report), BENCH_BATCH_CONNECTIONS (8); BENCH_KEEP=1 keeps the temp
 * directory (database included); BENCH_PROFILE=<dir> writes a CPU profile of the sidecar there.
 * The sidecar runs with the node flags of `npm start` (heap sizing, one V8 helper thread);
 * BENCH_SIDECAR_NODE_ARGS replaces them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORGS, USERS_PER_ORG, bodyPool, makeUsers } from './fleet.js';
import {
  call,
  createFleet,
  freePort,
  generateYear,
  log,
  measureQuery,
  memoryOf,
  startSidecar,
  stop,
  waitUntilUp,
  type QueryResult,
} from './helpers.js';
import { postLoad, round, type LoadResult } from './load.js';
import { measureRawInsert, usageEventsDdl, type RawInsertResult } from './raw-insert.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const EVENTS = envInt('BENCH_EVENTS', 1_000_000);
const SECONDS = envInt('BENCH_SECONDS', 20);
const WARMUP_SECONDS = 3;
const QUERY_REQUESTS = envInt('BENCH_QUERY_REQUESTS', 200);
const SINGLE_CONNECTIONS = 32;
const BATCH_CONNECTIONS = envInt('BENCH_BATCH_CONNECTIONS', 8);
const BATCH_SIZE = 100;
const GENERATE_BATCH = 500;
const GENERATE_CONNECTIONS = 4;
const RAW_ROWS = 300_000;

/** The last complete calendar month before now (reports are in Europe/Warsaw; a full month is safe). */
function lastFullMonth(): string {
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return month.toISOString().slice(0, 7);
}

type Target = { target: string; measured: string; threshold: string; pass: boolean };

function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [
    header,
    ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en') : cell))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? '').length)));
  const line = (row: (string | number)[]) =>
    row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(cells[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of cells.slice(1)) process.stdout.write(`${line(row)}\n`);
}

async function main(): Promise<void> {
  const runStarted = performance.now();
  log('building the sidecar (npm run build)');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  // tsc still emits JavaScript when it reports type errors; measure that, but say so loudly.
  const buildOk = build.status === 0;
  if (!buildOk && !existsSync(join(root, 'dist', 'sidecar', 'src', 'main.js'))) throw new Error('npm run build failed');
  if (!buildOk) log('WARNING: npm run build reported errors; measuring the JavaScript it emitted anyway');

  const dir = mkdtempSync(join(tmpdir(), 'mai-usage-bench-'));
  const children: ChildProcess[] = [];
  try {
    // --- the real sidecar ---------------------------------------------------------------------
    // The node flags `npm start` runs the sidecar with, unless overridden.
    const startScript = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } })
      .scripts.start;
    const startFlags = /\bnode((?:\s+--\S+)*)\s+dist\//.exec(startScript)?.[1] ?? '';
    const nodeArgs = (process.env.BENCH_SIDECAR_NODE_ARGS ?? startFlags).split(/\s+/).filter(Boolean);
    if (process.env.BENCH_PROFILE) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`);
    const sidecar = await startSidecar(root, dir, nodeArgs);
    children.push(sidecar.child);
    const { pid, base, databasePath, ingestToken, adminToken } = sidecar;
    log(`sidecar pid ${pid} on ${base}, database ${databasePath}`);

    // --- ceilings -----------------------------------------------------------------------------
    log(`ceiling: raw sqlite3 multi-row insert, ${RAW_ROWS.toLocaleString('en')} rows`);
    const rawInsert: RawInsertResult = await measureRawInsert(dir, await usageEventsDdl(databasePath), {
      rows: RAW_ROWS,
      rowsPerStatement: 400,
      rowsPerTransaction: 2000,
    });
    log(`  ${rawInsert.rows_per_s.toLocaleString('en')} rows/s`);

    const users = makeUsers();

    log(`ceiling: bare Express 5 JSON endpoint, concurrency ${SINGLE_CONNECTIONS}, ${SECONDS} s`);
    const barePort = await freePort();
    const bare = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'bare-express.ts')], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH, PORT: String(barePort), NODE_ENV: 'production' },
    });
    children.push(bare);
    const bareUrl = `http://127.0.0.1:${barePort}/api/v1/ingest/events`;
    await waitUntilUp(`http://127.0.0.1:${barePort}/`, bare, 'the bare Express server');
    const bareLoad = {
      url: bareUrl,
      connections: SINGLE_CONNECTIONS,
      eventsPerRequest: 1,
      body: bodyPool(users, 3, 'b', 1),
    };
    await postLoad({ ...bareLoad, seconds: WARMUP_SECONDS });
    const bareExpress: LoadResult = await postLoad({ ...bareLoad, seconds: SECONDS });
    await stop(bare);
    log(`  ${bareExpress.req_per_s.toLocaleString('en')} req/s`);

    // --- a year of usage ----------------------------------------------------------------------
    log(`creating ${ORGS} orgs and ${ORGS * USERS_PER_ORG} user mappings`);
    const orgIds = await createFleet(base, adminToken, users);
    log(`generating ${EVENTS.toLocaleString('en')} events in ${GENERATE_BATCH}-event batches`);
    const generation = await generateYear(base, ingestToken, users, {
      events: EVENTS,
      batch: GENERATE_BATCH,
      connections: GENERATE_CONNECTIONS,
    });
    log(`  ${generation.events_per_s.toLocaleString('en')} events/s over ${generation.seconds} s`);
    const afterGeneration = memoryOf(pid);

    // --- (a) single-event ingest, (b) 100-event batches ---------------------------------------
    const ingestUrl = `${base}/api/v1/ingest/events`;
    log(`(a) single-event ingest, concurrency ${SINGLE_CONNECTIONS}, ${SECONDS} s`);
    const singleLoad = {
      url: ingestUrl,
      token: ingestToken,
      connections: SINGLE_CONNECTIONS,
      eventsPerRequest: 1,
      body: bodyPool(users, 4, 's', 1),
    };
    await postLoad({ ...singleLoad, seconds: WARMUP_SECONDS });
    const single: LoadResult = await postLoad({ ...singleLoad, seconds: SECONDS });
    log(`  ${single.req_per_s.toLocaleString('en')} req/s`);

    log(`(b) ${BATCH_SIZE}-event batches, concurrency ${BATCH_CONNECTIONS}, ${SECONDS} s`);
    const batchLoad = {
      url: ingestUrl,
      token: ingestToken,
      connections: BATCH_CONNECTIONS,
      eventsPerRequest: BATCH_SIZE,
      body: bodyPool(users, 5, 'm', BATCH_SIZE),
    };
    await postLoad({ ...batchLoad, seconds: WARMUP_SECONDS });
    const batch: LoadResult = await postLoad({ ...batchLoad, seconds: SECONDS });
    log(`  ${batch.events_per_s.toLocaleString('en')} events/s`);

    // --- (c) month reports for one org ---------------------------------------------------------
    const org = orgIds[0]!;
    const month = lastFullMonth();
    const paths: Record<string, string> = {
      summary: `/api/v1/client-organizations/usage/summary?client_id=${org}`,
      by_user: `/api/v1/client-organizations/usage/by-user/${org}?month=${month}`,
      by_model: `/api/v1/client-organizations/usage/by-model/${org}?month=${month}`,
      export_csv: `/api/v1/client-organizations/usage/export?format=csv&client_id=${org}&month=${month}`,
    };
    const queries: Record<string, QueryResult & { path: string }> = {};
    for (const [name, path] of Object.entries(paths)) {
      log(`(c) ${name}: ${QUERY_REQUESTS} sequential requests`);
      queries[name] = { path, ...(await measureQuery(base, adminToken, path, QUERY_REQUESTS)) };
    }
    const exportRows = Math.max(
      0,
      (
        await (await fetch(`${base}${paths.export_csv}`, { headers: { authorization: `Bearer ${adminToken}` } })).text()
      ).split('\r\n').length - 2,
    );

    // --- (d) memory ---------------------------------------------------------------------------
    const memory = { ...memoryOf(pid), rss_after_generation_mb: afterGeneration.rss_mb };
    const counts = await call(base, adminToken, 'GET', `/api/v1/client-organizations/usage/summary?client_id=${org}`);
    await stop(sidecar.child);
    const databaseMb = round(statSync(databasePath).size / 1024 / 1024, 1);

    // --- report -------------------------------------------------------------------------------
    const singleRatio = single.req_per_s / bareExpress.req_per_s;
    const batchRatio = batch.events_per_s / rawInsert.rows_per_s;
    const targets: Target[] = [
      {
        target: 'single-event ingest ≥ 70% of bare Express req/s',
        measured: `${Math.round(singleRatio * 100)}% (${single.req_per_s} / ${bareExpress.req_per_s})`,
        threshold: '≥ 70%',
        pass: singleRatio >= 0.7,
      },
      {
        target: 'batched ingest ≥ 50% of raw insert rows/s',
        measured: `${Math.round(batchRatio * 100)}% (${batch.events_per_s} / ${rawInsert.rows_per_s})`,
        threshold: '≥ 50%',
        pass: batchRatio >= 0.5,
      },
      ...Object.entries(queries).map(([name, q]) => ({
        target: `${name} p95 ≤ 50 ms`,
        measured: `${q.p95_ms} ms`,
        threshold: '≤ 50 ms',
        pass: q.p95_ms <= 50,
      })),
      {
        target: 'peak RSS ≤ 150 MB',
        measured: `${memory.peak_rss_mb} MB`,
        threshold: '≤ 150 MB',
        pass: memory.peak_rss_mb <= 150,
      },
    ];

    const cpu = cpus();
    const results = {
      finished_at: new Date().toISOString(),
      run_seconds: round((performance.now() - runStarted) / 1000, 1),
      machine: {
        cpus: cpu.length,
        cpu_model: cpu[0]?.model ?? 'unknown',
        memory_gb: round(totalmem() / 1024 ** 3, 1),
        free_memory_gb: round(freemem() / 1024 ** 3, 1),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
      },
      setup: {
        events: EVENTS,
        orgs: ORGS,
        users: ORGS * USERS_PER_ORG,
        models: 30,
        load_generator: 'autocannon (in the bench process), keep-alive connections',
        sidecar_node_args: nodeArgs,
        build_ok: buildOk,
        load_seconds: SECONDS,
        warmup_seconds: WARMUP_SECONDS,
        database_mb: databaseMb,
        report_org: org,
        report_month: month,
        export_rows: exportRows,
        summary_this_month_requests: (counts.json.stats as { this_month?: { requests?: number } } | undefined)
          ?.this_month?.requests,
      },
      ceilings: { bare_express: bareExpress, raw_insert: rawInsert },
      generation,
      ingest_single: single,
      ingest_batch: { ...batch, events_per_request: BATCH_SIZE },
      queries,
      memory,
      targets,
      all_pass: targets.every((t) => t.pass),
    };
    writeFileSync(join(root, 'bench', 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);

    process.stdout.write(
      `\nmai-usage benchmark — ${cpu.length} × ${results.machine.cpu_model}, ${results.machine.memory_gb} GB, Node ${process.version}\n` +
        `${generation.events.toLocaleString('en')} events (${ORGS} orgs × ${USERS_PER_ORG} users × 30 models, ${generation.from.slice(0, 10)} … ${generation.to.slice(0, 10)}), SQLite ${databaseMb} MB\n`,
    );
    printTable(
      'Throughput',
      ['load', 'conc', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
      [
        [
          'bare Express 5 JSON (ceiling)',
          bareExpress.connections,
          bareExpress.req_per_s,
          bareExpress.events_per_s,
          bareExpress.p50_ms,
          bareExpress.p99_ms,
          bareExpress.non_2xx,
          bareExpress.errors,
        ],
        [
          '(a) ingest, 1 event/request',
          single.connections,
          single.req_per_s,
          single.events_per_s,
          single.p50_ms,
          single.p99_ms,
          single.non_2xx,
          single.errors,
        ],
        [
          `(b) ingest, ${BATCH_SIZE} events/request`,
          batch.connections,
          batch.req_per_s,
          batch.events_per_s,
          batch.p50_ms,
          batch.p99_ms,
          batch.non_2xx,
          batch.errors,
        ],
        [
          `year generation, ${GENERATE_BATCH}/request`,
          GENERATE_CONNECTIONS,
          Math.round(generation.requests / generation.seconds),
          generation.events_per_s,
          '-',
          '-',
          0,
          0,
        ],
        [`raw sqlite3 insert (ceiling)`, 1, '-', rawInsert.rows_per_s, '-', '-', '-', '-'],
      ],
    );
    printTable(
      `(c) Reports for one org, ${month}, ${QUERY_REQUESTS} sequential requests each`,
      ['report', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'bytes'],
      Object.entries(queries).map(([name, q]) => [name, q.p50_ms, q.p95_ms, q.p99_ms, q.max_ms, q.bytes]),
    );
    process.stdout.write(
      `\n(d) sidecar memory: peak RSS ${memory.peak_rss_mb} MB (VmHWM), RSS at end ${memory.rss_mb} MB, after generation ${memory.rss_after_generation_mb} MB\n`,
    );
    printTable(
      'Targets',
      ['target', 'measured', 'threshold', 'result'],
      targets.map((t) => [t.target, t.measured, t.threshold, t.pass ? 'PASS' : 'FAIL']),
    );
    process.stdout.write(`\nwritten to bench/results/latest.json (run took ${results.run_seconds} s)\n`);
  } finally {
    for (const child of children) await stop(child).catch(() => undefined);
    if (process.env.BENCH_KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
