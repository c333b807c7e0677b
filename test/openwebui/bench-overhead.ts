/**
 * Overhead benchmark: the latency the filter adds to a completion in the real Open WebUI,
 * filter off vs on, with the sidecar up and with it down, in one run. Blocks of requests
 * alternate between the two states so drift affects both alike.
 *
 * Run: `npm run bench:filter` (env BENCH_REQUESTS per state and condition, default 200).
 * Targets (issue 3): ≤ 2 ms added at the median with the sidecar up, ≤ 5 ms with it down.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeOpenRouter } from '../fakes/openrouter/fake-openrouter.js';
import { installFilter } from '../../sidecar/src/features/filter-install/filter-install.service.js';
import { createOpenWebUIClient, type Account } from './openwebui-client.js';
import { ensureOpenWebUIVenv, OPEN_WEBUI_VERSION } from './openwebui-venv.js';
import { createOpenWebUI, createSidecar, type ManagedProcess } from './processes.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const BLOCK = 20;
const STATES = ['off', 'noop', 'noop_valves', 'on'] as const;
type State = (typeof STATES)[number];

const NOOP_FILTER = `"""
title: noop
version: 0.0.1
"""
class Filter:
    def inlet(self, body, __user__=None):
        return body

    def stream(self, event, __metadata__=None):
        return event

    def outlet(self, body, __user__=None, __metadata__=None):
        return body
`;

/** The same, with what mai-usage's hooks make Open WebUI do: load and validate valves, pass __user__. */
const NOOP_VALVES_FILTER = `"""
title: noop with valves
version: 0.0.1
"""
from pydantic import BaseModel, Field


class Filter:
    class Valves(BaseModel):
        priority: int = Field(default=0, description="order")
        sidecar_url: str = Field(default="", description="unused")

    def __init__(self):
        self.valves = self.Valves()

    async def inlet(self, body, __user__=None):
        return body

    def stream(self, event, __user__=None, __metadata__=None):
        return event

    def outlet(self, body, __user__=None, __metadata__=None):
        return body
`;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p95: percentile(sorted, 95), n: sorted.length };
}

async function timedStream(baseUrl: string, account: Account): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/api/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${account.token}` },
    body: JSON.stringify({ model: 'fake/alpha', stream: true, messages: [{ role: 'user', content: 'benchmark me' }] }),
  });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('[DONE]'))
    throw new Error(`bench request failed: ${response.status} ${text.slice(0, 200)}`);
  return performance.now() - started;
}

async function main() {
  const workdir = mkdtempSync(join(tmpdir(), 'mai-usage-bench-'));
  const ingestToken = randomBytes(24).toString('hex');
  const adminToken = randomBytes(24).toString('hex');
  const key = `sk-or-v1-${randomBytes(24).toString('hex')}`;
  const fake = await createFakeOpenRouter({
    apiKeys: [key],
    behavior: { chunkDelayMs: 0, processingComments: 1, replyWords: 12 },
  });
  const processes: ManagedProcess[] = [];
  try {
    const python = ensureOpenWebUIVenv();
    const openWebUI = await createOpenWebUI({
      python,
      dataDir: join(workdir, 'openwebui'),
      openaiApiBase: fake.apiBase,
      openaiApiKey: key,
      logPath: join(workdir, 'openwebui.log'),
    });
    const sidecar = await createSidecar({
      dataDir: join(workdir, 'sidecar'),
      ingestToken,
      adminToken,
      openWebUIUrl: openWebUI.url,
      openRouterApiBase: fake.apiBase,
      logPath: join(workdir, 'sidecar.log'),
    });
    processes.push(openWebUI, sidecar);
    await Promise.all([openWebUI.start(), sidecar.start()]);
    const owui = createOpenWebUIClient(openWebUI.url);
    const admin = await owui.signUpAdmin('Admin', 'admin@bench.example', 'Bench-passw0rd!');
    await installFilter({
      openWebUiUrl: openWebUI.url,
      apiKey: admin.token,
      valves: { sidecar_url: sidecar.url, ingest_token: ingestToken, spool_dir: join(workdir, 'spool') },
    });

    // A filter with the same hooks doing nothing: separates Open WebUI's own cost of running
    // any filter from what this filter's code adds.
    await installFilter({
      openWebUiUrl: openWebUI.url,
      apiKey: admin.token,
      id: 'noop_filter',
      name: 'noop',
      source: NOOP_FILTER,
      valves: {},
    });
    await owui.setFilterActive(admin, 'noop_filter', false);
    await installFilter({
      openWebUiUrl: openWebUI.url,
      apiKey: admin.token,
      id: 'noop_valves_filter',
      name: 'noop with valves',
      source: NOOP_VALVES_FILTER,
      valves: { sidecar_url: sidecar.url },
    });
    await owui.setFilterActive(admin, 'noop_valves_filter', false);

    for (let i = 0; i < 20; i++) await timedStream(openWebUI.url, admin); // warm-up

    async function setState(state: State) {
      await owui.setFilterActive(admin, 'noop_filter', state === 'noop');
      await owui.setFilterActive(admin, 'noop_valves_filter', state === 'noop_valves');
      await owui.setFilterActive(admin, 'mai_usage', state === 'on');
    }

    const results: Record<string, Record<State, number[]>> = {};
    for (const condition of ['sidecar up', 'sidecar down'] as const) {
      if (condition === 'sidecar down') await sidecar.stop();
      const samples: Record<State, number[]> = { off: [], noop: [], noop_valves: [], on: [] };
      for (let done = 0; done < REQUESTS; done += BLOCK) {
        for (const state of STATES) {
          await setState(state);
          await timedStream(openWebUI.url, admin); // first request after a toggle reloads state
          for (let i = 0; i < BLOCK; i++) samples[state].push(await timedStream(openWebUI.url, admin));
        }
      }
      results[condition] = samples;
    }

    console.log(
      `\nFilter overhead in Open WebUI ${OPEN_WEBUI_VERSION}, streamed API completions (ms, ${REQUESTS} per cell)`,
    );
    console.log(
      'off = no filter; noop = empty inlet/stream/outlet; noop_valves = the same with a Valves class and ' +
        "mai-usage's hook signatures (Open WebUI's own cost of such a filter); on = mai-usage",
    );
    const f = (n: number) => n.toFixed(2).padStart(8);
    const header = [
      'condition     ',
      ...STATES.flatMap((s) => [`${s} med`, `${s} p95`]),
      'on−off med',
      'on−noop_v med',
    ];
    console.log(header.map((h) => h.padStart(8)).join(' | '));
    for (const [condition, samples] of Object.entries(results)) {
      const cells = Object.fromEntries(STATES.map((state) => [state, stats(samples[state])])) as Record<
        State,
        ReturnType<typeof stats>
      >;
      const row = [
        condition.padEnd(14),
        ...STATES.flatMap((state) => [f(cells[state].median), f(cells[state].p95)]),
        f(cells.on.median - cells.off.median),
        f(cells.on.median - cells.noop_valves.median),
      ];
      console.log(row.join(' | '));
    }
    console.log('targets: added median ≤ 2 ms (sidecar up), ≤ 5 ms (sidecar down)');
    const figures = Object.fromEntries(
      Object.entries(results).map(([condition, samples]) => [
        condition,
        Object.fromEntries(STATES.map((state) => [state, stats(samples[state])])),
      ]),
    );
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'filter-latest.json');
    writeFileSync(
      out,
      `${JSON.stringify({ finished_at: new Date().toISOString(), open_webui: OPEN_WEBUI_VERSION, requests_per_cell: REQUESTS, ms: figures }, null, 2)}\n`,
    );
    console.log(`written to ${out}`);
  } finally {
    for (const process of processes.reverse()) await process.stop().catch(() => undefined);
    await fake.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}

await main();
