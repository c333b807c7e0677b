/**
 * Overhead benchmark: the latency the filter adds to a completion in the real Open WebUI,
 * filter off vs on, with the sidecar up and with it down, in one run. Blocks of requests
 * alternate between the two states so drift affects both alike.
 *
 * Run: `npm run bench:filter` (env BENCH_REQUESTS per state and condition, default 200).
 * Targets (issue 3): ≤ 2 ms added at the median with the sidecar up, ≤ 5 ms with it down.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeOpenRouter } from '../fakes/openrouter/fake-openrouter.js';
import { installFilter } from '../../sidecar/src/features/filter-install/filter-install.service.js';
import { createOpenWebUIClient, type Account } from './openwebui-client.js';
import { ensureOpenWebUIVenv, OPEN_WEBUI_VERSION } from './openwebui-venv.js';
import { createOpenWebUI, createSidecar, type ManagedProcess } from './processes.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const BLOCK = 20;
const STATES = ['off', 'noop', 'on'] as const;
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

    for (let i = 0; i < 20; i++) await timedStream(openWebUI.url, admin); // warm-up

    async function setState(state: State) {
      await owui.setFilterActive(admin, 'noop_filter', state === 'noop');
      await owui.setFilterActive(admin, 'mai_usage', state === 'on');
    }

    const results: Record<string, Record<State, number[]>> = {};
    for (const condition of ['sidecar up', 'sidecar down'] as const) {
      if (condition === 'sidecar down') await sidecar.stop();
      const samples: Record<State, number[]> = { off: [], noop: [], on: [] };
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
    console.log('off = no filter; noop = a filter with empty inlet/stream/outlet; on = mai-usage');
    console.log(
      'condition      | off med | off p95 | noop med | noop p95 | on med | on p95 | on−off med | on−noop med | on−noop p95',
    );
    const f = (n: number, w: number) => n.toFixed(2).padStart(w);
    for (const [condition, samples] of Object.entries(results)) {
      const [off, noop, on] = [stats(samples.off), stats(samples.noop), stats(samples.on)];
      console.log(
        `${condition.padEnd(14)} | ${f(off.median, 7)} | ${f(off.p95, 7)} | ${f(noop.median, 8)} | ${f(noop.p95, 8)} | ${f(on.median, 6)} | ${f(on.p95, 6)} | ${f(on.median - off.median, 10)} | ${f(on.median - noop.median, 11)} | ${f(on.p95 - noop.p95, 11)}`,
      );
    }
    console.log('targets: added median ≤ 2 ms (sidecar up), ≤ 5 ms (sidecar down)');
  } finally {
    for (const process of processes.reverse()) await process.stop().catch(() => undefined);
    await fake.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}

await main();
