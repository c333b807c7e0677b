import { Router } from 'express';
import type { AppDeps } from '../../deps.js';

export function createHealthRouter(deps: AppDeps): Router {
  const router = Router();

  // Liveness: the process answers. Docker's healthcheck uses this.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Readiness: the database answers, migrations are done and usage stored while they were not
  // is rolled up; degraded (503) otherwise — usage is still accepted then (DESIGN §2).
  router.get('/readyz', async (_req, res) => {
    const database = await deps.db
      .raw('SELECT 1')
      .then(() => ({ ok: true, error: null as string | null }))
      .catch((error: unknown) => ({ ok: false, error: error instanceof Error ? error.message : String(error) }));
    const { migrations, jobs } = deps.health;
    const ready = database.ok && migrations.state === 'done';
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'degraded',
      database: { client: deps.config.database.client, ...database },
      migrations,
      // 'backlog' while degraded: usage is stored raw and rolled up once migrations finish.
      ledger: { write_path: deps.ledger.schemaCurrent() ? 'ledger' : 'backlog' },
      jobs: Object.fromEntries(
        [...jobs.values()].map((job) => [
          job.name,
          { last_run_at: job.lastRunAt, ok: job.ok, duration_ms: job.durationMs, error: job.error },
        ]),
      ),
    });
  });

  return router;
}
