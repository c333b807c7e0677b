import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test-support/databases.js';
import { ADMIN_TOKEN, INGEST_TOKEN, completionEvent, createTestApp, type TestApp } from '../../test-support/harness.js';

const METRICS_TOKEN = 'test-metrics-token-0123456789';
const dashboardPath = new URL('../../../../deploy/grafana/mai-usage.json', import.meta.url);

const scrape = async (t: TestApp) => (await t.as(METRICS_TOKEN).get('/metrics').expect(200)).text;

/** The value of one series in Prometheus text, or undefined when it is not exported. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

/** Metric families exported, from the `# TYPE` lines, with their types. */
function exportedFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(match[1]!, match[2]!);
  return families;
}

describe.each(databaseKinds)('/metrics on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { now: '2026-03-10T12:00:00Z', env: { METRICS_TOKEN } });
  });
  afterAll(async () => t?.close());

  it('is served only to the metrics token or the operator token', async () => {
    await request(t.app).get('/metrics').expect(401);
    await t.as(INGEST_TOKEN).get('/metrics').expect(401);
    await t.as('owui-admin-token').get('/metrics').expect(401);
    const res = await t.as(METRICS_TOKEN).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    await t.as(ADMIN_TOKEN).get('/metrics').expect(200);
  });

  it('counts recorded events, duplicates, replays seen and ingest latency', async () => {
    const ingest = (events: unknown[]) => t.ingest({ events });
    const first = completionEvent({ event_id: 'gen-metrics-1' });
    await ingest([first, completionEvent({ event_id: 'gen-metrics-2', usage: { input_tokens: 1, output_tokens: 1 } })]);
    await ingest([{ ...first, replayed: true }]).expect(200);
    const text = await scrape(t);
    const filter = { source: 'filter', kind: 'completion' };
    expect(valueOf(text, 'mai_usage_events_recorded_total', filter)).toBe(2);
    expect(valueOf(text, 'mai_usage_events_duplicate_total', filter)).toBe(1);
    expect(valueOf(text, 'mai_usage_ingest_replayed_events_total')).toBe(1);
    expect(valueOf(text, 'mai_usage_ingest_request_duration_seconds_count')).toBe(2);
    // gen-metrics-2 came without a cost: it waits for OpenRouter.
    expect(valueOf(text, 'mai_usage_pending_cost_events')).toBe(1);
    expect(valueOf(text, 'mai_usage_migrations_degraded')).toBe(0);
    expect(valueOf(text, 'mai_usage_ledger_backlog_events')).toBe(0);
    expect(text).toContain(`instance_id="${t.config.instanceId}"`);
  });

  it("reports each job's runs, failures and duration", async () => {
    await t.deps.scheduler.runNow('limit-alerts');
    const text = await scrape(t);
    expect(valueOf(text, 'mai_usage_job_runs_total', { job: 'limit-alerts' })).toBe(1);
    expect(valueOf(text, 'mai_usage_job_failures_total', { job: 'limit-alerts' }) ?? 0).toBe(0);
    expect(valueOf(text, 'mai_usage_job_duration_seconds_count', { job: 'limit-alerts' })).toBe(1);
  });

  it('reports limits reached and the latest reconciliation drift per org', async () => {
    const orgId = `org_default_${t.config.instanceId}`;
    // The org has spent 0.003224 × 1.3 = 0.0041912 USD; a 0.005 USD limit puts it at 83%.
    await t.db('client_organizations').where({ id: orgId }).update({ monthly_limit_nano_usd: '5000000' });
    t.deps.limits.invalidate();
    await t.deps.limits.refresh();
    const reconciliation = {
      client_org_id: orgId,
      kind: 'key_monthly',
      model: '',
      openrouter_nano_usd: '5000000000',
      ledger_nano_usd: '4750000000',
      checked_at: '2026-03-10T11:00:00Z',
    };
    await t.db('reconciliations').insert([
      { ...reconciliation, period: '2026-02', drift_nano_usd: '999000000000' },
      { ...reconciliation, period: '2026-03', drift_nano_usd: '250000000' },
    ]);
    const text = await scrape(t);
    expect(valueOf(text, 'mai_usage_limits_reached', { scope: 'org', threshold: '80' })).toBe(1);
    expect(valueOf(text, 'mai_usage_limits_reached', { scope: 'org', threshold: '100' })).toBe(0);
    expect(valueOf(text, 'mai_usage_limits_reached', { scope: 'user', threshold: '80' })).toBe(0);
    expect(valueOf(text, 'mai_usage_reconciliation_drift_usd', { client_org_id: orgId, period: '2026-03' })).toBe(0.25);
    expect(text).not.toContain('period="2026-02"');
  });

  it('exports every metric the Grafana dashboard queries', async () => {
    const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: unknown[]; templating: unknown };
    const queries = JSON.stringify(dashboard).match(/mai_usage_[a-z_]+/g) ?? [];
    const queried = new Set(queries);
    expect(queried.size).toBeGreaterThanOrEqual(10);
    const families = exportedFamilies(await scrape(t));
    for (const name of queried) {
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
      if (histogram && families.get(histogram[1]!) === 'histogram') continue;
      expect(families.has(name), `${name} is queried by the dashboard but not exported`).toBe(true);
    }
    // Every panel has a query; every family this sidecar defines is on the dashboard.
    for (const family of families.keys()) {
      if (family.startsWith('mai_usage_'))
        expect(
          queries.some((q) => q.startsWith(family)),
          family,
        ).toBe(true);
    }
  });
});
