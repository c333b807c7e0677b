import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { nanoToUsdNumber } from '../../lib/money.js';
import type { Health } from '../health/health.service.js';
import { countBacklog } from '../ledger/ledger.backlog.js';
import type { LedgerInput, RecordStatus } from '../ledger/ledger.service.js';
import type { LimitLevel } from '../limits/limits.cache.js';
import { countPendingCosts, latestMonthlyDrift } from './metrics.store.js';

/**
 * The sidecar's Prometheus metrics, one registry per app. The ingest path only adds to
 * counters (labels from small fixed sets: source, kind, job); anything that needs the database
 * is read when Prometheus scrapes, never per request. Every series carries `instance_id`, so
 * one Prometheus scraping all tenants' sidecars can tell them apart and sum them.
 */
export type Metrics = {
  registry: Registry;
  /** The ledger's answers, per caller (every source: filter, webhook, manual, sync). */
  observeRecorded(inputs: readonly LedgerInput[], statuses: readonly RecordStatus[]): void;
  /** One ingest request: its duration and how many of its events the filter marked as replays. */
  observeIngestRequest(seconds: number, replayedEvents: number): void;
  /** One job run, from the scheduler. */
  observeJob(outcome: { name: string; ok: boolean; durationMs: number }): void;
  /** Limit levels as the limit check's memory reports them (the alerts see the same). */
  observeLimitLevels(levels: readonly LimitLevel[]): void;
};

export const METRIC_NAMES = {
  recorded: 'mai_usage_events_recorded_total',
  duplicates: 'mai_usage_events_duplicate_total',
  replayed: 'mai_usage_ingest_replayed_events_total',
  ingestLatency: 'mai_usage_ingest_request_duration_seconds',
  jobRuns: 'mai_usage_job_runs_total',
  jobFailures: 'mai_usage_job_failures_total',
  jobDuration: 'mai_usage_job_duration_seconds',
  pendingCosts: 'mai_usage_pending_cost_events',
  drift: 'mai_usage_reconciliation_drift_usd',
  limits: 'mai_usage_limits_reached',
  degraded: 'mai_usage_migrations_degraded',
  backlog: 'mai_usage_ledger_backlog_events',
} as const;

type Sources = `${LedgerInput['source']}|${LedgerInput['kind']}`;

export function createMetrics(deps: { db: Knex; instanceId: string; health: Health; logger: Logger }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: deps.instanceId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  /** Scrape-time reads fail while the schema is behind; the gauge keeps its last value then. */
  const scrape = async (what: string, read: () => Promise<void>) => {
    try {
      await read();
    } catch (error) {
      deps.logger.debug({ err: error }, `metrics: could not read ${what}`);
    }
  };

  const recorded = new Counter({
    name: METRIC_NAMES.recorded,
    help: 'Usage events the ledger recorded (new event ids), by source and kind.',
    labelNames: ['source', 'kind'] as const,
    registers,
  });
  const duplicates = new Counter({
    name: METRIC_NAMES.duplicates,
    help: 'Usage events answered duplicate (event id already recorded): replays, retries, spool replays.',
    labelNames: ['source', 'kind'] as const,
    registers,
  });
  const replayed = new Counter({
    name: METRIC_NAMES.replayed,
    help: 'Ingested events the filter marked "replayed": true (sent again from its spool).',
    registers,
  });
  const ingestLatency = new Histogram({
    name: METRIC_NAMES.ingestLatency,
    help: 'Time to answer POST /api/v1/ingest/events (after body parsing), in seconds.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const jobRuns = new Counter({
    name: METRIC_NAMES.jobRuns,
    help: 'Scheduled job runs (finished), by job.',
    labelNames: ['job'] as const,
    registers,
  });
  const jobFailures = new Counter({
    name: METRIC_NAMES.jobFailures,
    help: 'Scheduled job runs that failed, by job.',
    labelNames: ['job'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: METRIC_NAMES.jobDuration,
    help: 'Scheduled job run duration in seconds, by job.',
    labelNames: ['job'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600],
    registers,
  });

  new Gauge({
    name: METRIC_NAMES.pendingCosts,
    help: 'Ledger events whose cost is still pending (waiting for OpenRouter), for this instance.',
    registers,
    async collect() {
      await scrape('pending costs', async () => this.set(await countPendingCosts(deps.db, deps.instanceId)));
    },
  });
  new Gauge({
    name: METRIC_NAMES.drift,
    help: "OpenRouter's spend minus the ledger's raw cost in USD, per org, from its latest monthly key reconciliation.",
    labelNames: ['client_org_id', 'period'] as const,
    registers,
    async collect() {
      await scrape('reconciliation drift', async () => {
        const drifts = await latestMonthlyDrift(deps.db, deps.instanceId);
        this.reset();
        for (const drift of drifts) {
          this.set({ client_org_id: drift.clientOrgId, period: drift.period }, nanoToUsdNumber(drift.driftNanoUsd));
        }
      });
    },
  });
  new Gauge({
    name: METRIC_NAMES.degraded,
    help: '1 while migrations have not finished (usage goes to the ledger backlog; /readyz is 503), else 0.',
    registers,
    collect() {
      this.set(deps.health.migrations.state === 'done' ? 0 : 1);
    },
  });
  new Gauge({
    name: METRIC_NAMES.backlog,
    help: "Usage events stored while degraded and not rolled up yet (this instance's).",
    registers,
    async collect() {
      await scrape('ledger backlog', async () => this.set(await countBacklog(deps.db, deps.instanceId)));
    },
  });

  // The latest level of each limit (org or user), as the limit check's memory last reported it.
  const levels = new Map<string, { period: string; pct: number; scope: 'org' | 'user' }>();
  new Gauge({
    name: METRIC_NAMES.limits,
    help: 'Orgs and users of this instance at or above 80% and 100% of their monthly limit this month.',
    labelNames: ['scope', 'threshold'] as const,
    registers,
    collect() {
      const latest = [...levels.values()].reduce((max, level) => (level.period > max ? level.period : max), '');
      const counts = { org: { 80: 0, 100: 0 }, user: { 80: 0, 100: 0 } };
      for (const [key, level] of levels) {
        if (level.period !== latest) {
          levels.delete(key); // a past month's level
          continue;
        }
        if (level.pct >= 80) counts[level.scope][80] += 1;
        if (level.pct >= 100) counts[level.scope][100] += 1;
      }
      for (const scope of ['org', 'user'] as const) {
        for (const threshold of [80, 100] as const) {
          this.set({ scope, threshold: String(threshold) }, counts[scope][threshold]);
        }
      }
    },
  });

  return {
    registry,
    observeRecorded(inputs, statuses) {
      // Counted per (source, kind, status) first: one counter call per group, not per event.
      const counts = new Map<Sources, [number, number]>();
      inputs.forEach((input, index) => {
        const key: Sources = `${input.source}|${input.kind}`;
        const pair = counts.get(key) ?? [0, 0];
        pair[statuses[index] === 'recorded' ? 0 : 1] += 1;
        counts.set(key, pair);
      });
      for (const [key, [recordedCount, duplicateCount]] of counts) {
        const [source, kind] = key.split('|') as [string, string];
        if (recordedCount > 0) recorded.inc({ source, kind }, recordedCount);
        if (duplicateCount > 0) duplicates.inc({ source, kind }, duplicateCount);
      }
    },
    observeIngestRequest(seconds, replayedEvents) {
      ingestLatency.observe(seconds);
      if (replayedEvents > 0) replayed.inc(replayedEvents);
    },
    observeJob({ name, ok, durationMs }) {
      jobRuns.inc({ job: name });
      if (!ok) jobFailures.inc({ job: name });
      jobDuration.observe({ job: name }, durationMs / 1000);
    },
    observeLimitLevels(reported) {
      for (const level of reported) {
        // Whole percent, rounded down: 79.9% is not yet 80%. A zero limit blocks: 100%.
        const pct = level.limitNanoUsd > 0n ? Number((level.usedNanoUsd * 100n) / level.limitNanoUsd) : 100;
        levels.set(`${level.clientOrgId}\u0000${level.userId}`, {
          period: level.period,
          pct,
          scope: level.userId === '' ? 'org' : 'user',
        });
      }
    },
  };
}
