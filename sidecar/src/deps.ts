import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { requestIdOf } from './http/request-log.js';
import { createLimitAlerts, type LimitAlerts } from './features/alerts/alerts.service.js';
import { createExchangeRates, type ExchangeRates } from './features/exchange-rates/exchange-rates.service.js';
import { createHealth, type Health } from './features/health/health.service.js';
import { createLedger, type Ledger } from './features/ledger/ledger.service.js';
import { createLimitState, type LimitState } from './features/limits/limits.cache.js';
import { createMetrics, type Metrics } from './features/metrics/metrics.service.js';
import { createOpenRouterClient, type OpenRouterClient } from './features/openrouter/openrouter.client.js';
import { createOpenRouterSync, type OpenRouterSync } from './features/reconciliation/reconciliation.service.js';
import type { OrgContext } from './features/organizations/organizations.service.js';
import { createSettings, type Settings } from './features/settings/settings.service.js';
import { jobDefinitions } from './jobs/jobs.js';
import { createScheduler, type Scheduler } from './jobs/scheduler.js';
import { createMigrator, type Migrator, type MigratorOptions } from './db/migrator.js';

/** What jobs are built from: everything but the scheduler that runs them. */
export type JobDeps = Omit<AppDeps, 'scheduler'>;

/** What the app is built from; main.ts and tests both assemble one. */
export type AppDeps = {
  config: Config;
  db: Knex;
  logger: Logger;
  ledger: Ledger;
  settings: Settings;
  /** The one OpenRouter client (sync, provisioning). */
  openRouter: OpenRouterClient;
  /** The OpenRouter sync run (the job and POST sync/openrouter-usage share it). */
  openRouterSync: OpenRouterSync;
  health: Health;
  /** NBP rates: table C ask for display, table A mid for statements. */
  exchangeRates: ExchangeRates;
  /** The limit check's memory, kept current by the ledger. */
  limits: LimitState;
  /** Alerts at 80% and 100% of a limit: raised from the limit state, posted to the webhook. */
  alerts: LimitAlerts;
  /** Scheduled jobs; main.ts starts them, routes and tests may run one now. */
  scheduler: Scheduler;
  /** Prometheus registry and the hooks that feed it (GET /metrics). */
  metrics: Metrics;
  /** Runs migrations, degrading (ledger backlog, /readyz 503) and retrying when they cannot run. */
  migrator: Migrator;
  now: () => Date;
};

export function orgContext(deps: JobDeps, req: Request | null): OrgContext {
  return {
    db: deps.db,
    provisioning: {
      client: deps.openRouter,
      key: () => deps.settings.provisioningKey(),
      encryptionKey: deps.config.encryptionKey,
    },
    instanceId: deps.config.instanceId,
    encryptionKey: deps.config.encryptionKey,
    defaultMarkupRatePpm: () => deps.settings.defaultMarkupRatePpm(),
    requestId: requestIdOf(req?.res),
    now: deps.now,
  };
}

/** Wires the services over a database; the caller owns the database's lifecycle. */
export function assembleDeps(options: {
  config: Config;
  db: Knex;
  logger: Logger;
  now?: () => Date;
  /** Migration source and retry backoff (tests); defaults otherwise. */
  migrations?: Pick<MigratorOptions, 'migrationConfig' | 'retryBaseMs' | 'retryMaxMs'>;
}): AppDeps {
  const { migrations: migrationOptions, ...base } = options;
  const now = options.now ?? (() => new Date());
  const health = createHealth();
  const metrics = createMetrics({
    db: options.db,
    instanceId: options.config.instanceId,
    health,
    logger: options.logger,
  });
  // The ledger tells the migrator when the schema falls behind; the migrator drives the ledger.
  const late: { migrator?: Migrator } = {};
  const settings = createSettings({ db: options.db, config: options.config, now });
  const alerts = createLimitAlerts({
    db: options.db,
    instanceId: options.config.instanceId,
    webhook: options.config.alertWebhook,
    logger: options.logger,
    now,
  });
  const limits = createLimitState({
    db: options.db,
    instanceId: options.config.instanceId,
    billingTimeZone: options.config.billingTimeZone,
    logger: options.logger,
    now,
    onLevels: (levels) => {
      metrics.observeLimitLevels(levels);
      alerts.consider(levels);
    },
  });
  const ledger = createLedger({
    db: options.db,
    instanceId: options.config.instanceId,
    billingTimeZone: options.config.billingTimeZone,
    defaultMarkupRatePpm: () => settings.defaultMarkupRatePpm(),
    logger: options.logger,
    now,
    onCommitted: (events) => limits.applyCommitted(events),
    onRecorded: (inputs, statuses) => metrics.observeRecorded(inputs, statuses),
    onSchemaError: (error) => late.migrator?.schemaFellBehind(error),
  });
  const migrator = (late.migrator = createMigrator({
    db: options.db,
    health,
    ledger,
    logger: options.logger,
    ...migrationOptions,
  }));
  const exchangeRates = createExchangeRates({ db: options.db, config: options.config, logger: options.logger, now });
  const openRouter = createOpenRouterClient({ apiBase: options.config.openRouter.apiBase, logger: options.logger });
  const openRouterSync = createOpenRouterSync({
    ...base,
    now,
    ledger,
    openRouter,
    provisioningKey: () => settings.provisioningKey(),
    onCostFilled: (events) => limits.applyCostFilled(events),
  });
  const services = {
    ...base,
    now,
    settings,
    ledger,
    health,
    exchangeRates,
    openRouter,
    openRouterSync,
    limits,
    alerts,
    metrics,
    migrator,
  };
  return {
    ...services,
    scheduler: createScheduler({
      jobs: jobDefinitions(services),
      health,
      logger: options.logger,
      observe: (outcome) => metrics.observeJob(outcome),
    }),
  };
}
