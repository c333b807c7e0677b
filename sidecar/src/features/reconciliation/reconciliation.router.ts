import { Router } from 'express';
import { z } from 'zod';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { nanoToUsdNumber } from '../../lib/money.js';
import { reportScope } from '../usage/usage.service.js';
import { listReconciliations } from './reconciliation.store.js';

const syncBody = z.object({ days_back: z.number().int().min(1).max(30).optional() }).optional();

/** The seeds' manual sync, and what reconciliation found (under /api/v1/usage-tracking). */
export function createReconciliationRouter(deps: AppDeps): Router {
  const router = Router();

  // Runs the same code as the scheduled job; joins a run already in progress.
  router.post('/sync/openrouter-usage', allow('operator', 'admin'), async (req, res) => {
    const body = syncBody.parse(req.body);
    res.json(await deps.openRouterSync.run(body?.days_back ?? deps.config.openRouter.syncDaysBack));
  });

  router.get('/reconciliation', allow('operator', 'admin'), async (req, res) => {
    const { client_org_id, since } = z
      .object({
        client_org_id: z.string().min(1).max(200).optional(),
        since: z
          .string()
          .regex(/^\d{4}-\d{2}(-\d{2})?$/, 'must be YYYY-MM or YYYY-MM-DD')
          .optional(),
      })
      .parse(req.query);
    const ctx = { ...orgContext(deps, req), timeZone: deps.config.billingTimeZone };
    const orgs = await reportScope(ctx, principalOf(res), client_org_id);
    const rows = await listReconciliations(deps.db, { clientOrgIds: orgs.map((o) => o.id), fromPeriod: since });
    const drift = rows.filter((r) => r.kind === 'key_monthly').reduce((sum, r) => sum + r.driftNanoUsd, 0n);
    res.json({
      success: true,
      rows: rows.map((r) => ({
        client_org_id: r.clientOrgId,
        kind: r.kind,
        period: r.period,
        model: r.model || null,
        openrouter_usd: nanoToUsdNumber(r.openRouterNanoUsd),
        ledger_usd: nanoToUsdNumber(r.ledgerNanoUsd),
        drift_usd: nanoToUsdNumber(r.driftNanoUsd),
        drift_nano_usd: r.driftNanoUsd.toString(),
        openrouter_requests: r.openRouterRequests,
        ledger_requests: r.ledgerRequests,
        checked_at: r.checkedAt,
      })),
      monthly_drift_usd: nanoToUsdNumber(drift),
      monthly_drift_nano_usd: drift.toString(),
    });
  });

  return router;
}
