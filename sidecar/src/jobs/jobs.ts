import type { JobDeps } from '../deps.js';
import { backupDatabase, PG_DUMP_ADVICE } from '../features/backups/backups.service.js';
import type { JobDefinition } from './scheduler.js';

/**
 * Every scheduled job, with when it runs. The one place to look for "what runs when".
 */
export function jobDefinitions(deps: JobDeps): JobDefinition[] {
  const syncEvery = deps.config.openRouter.syncIntervalSeconds;
  return [
    // Fills pending costs, bills aborted streams, reconciles keys; 0 disables it.
    ...(syncEvery > 0
      ? [
          {
            name: 'openrouter-sync',
            schedule: { everySeconds: syncEvery },
            run: () => deps.openRouterSync.run(deps.config.openRouter.syncDaysBack),
          },
        ]
      : []),
    {
      // NBP publishes table C 7:45–8:15 and table A 11:45–12:15 on business days.
      name: 'nbp-rates',
      schedule: { cron: '20 8,12 * * 1-5', timezone: 'Europe/Warsaw' },
      run: () => deps.exchangeRates.refresh(),
    },
    {
      // Re-reads limits and this month's usage of limited orgs (other sidecars sharing PostgreSQL
      // write too), which raises any alert due, then retries undelivered alert webhooks.
      name: 'limit-alerts',
      schedule: { everySeconds: 60 },
      run: async () => ({ ...(await deps.limits.refresh()), ...(await deps.alerts.deliverPending()) }),
    },
    {
      // SQLite: an online backup into BACKUP_DIR, then BACKUP_RETENTION_DAYS of them kept.
      // PostgreSQL is backed up outside the sidecar (pg_dump); the run says so.
      name: 'backup',
      schedule: { cron: '15 3 * * *', timezone: 'Europe/Warsaw' },
      run: async () =>
        deps.config.database.client === 'sqlite'
          ? backupDatabase(deps.config, deps.now())
          : { skipped: PG_DUMP_ADVICE },
    },
  ];
}
