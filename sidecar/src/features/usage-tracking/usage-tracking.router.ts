import { Router, type Request } from 'express';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { today } from '../../lib/time.js';
import { requireVisibleOrganization } from '../organizations/organizations.service.js';
import { displayPln, displayRateInfo } from '../usage/usage.pln.js';
import { totalUsage } from '../usage/usage.store.js';
import { nanoToUsdNumber } from '../../lib/money.js';
import { clientOrgIdParam, manualRecordBody, webhookBody } from './usage-tracking.schema.js';
import { recordManualUsage, recordWebhookUsage } from './usage-tracking.service.js';

/** /api/v1/usage-tracking: the seeds' real-time check and manual corrections. */
export function createUsageTrackingRouter(deps: AppDeps): Router {
  const router = Router();
  const context = (req: Request) => ({ ...orgContext(deps, req), ledger: deps.ledger });

  router.get('/usage/real-time/:client_org_id', allow('operator', 'admin', 'user'), async (req, res) => {
    const ctx = context(req);
    const org = await requireVisibleOrganization(
      ctx,
      principalOf(res),
      clientOrgIdParam.parse(req.params).client_org_id,
    );
    const day = today(deps.config.billingTimeZone, deps.now());
    const totals = await totalUsage(deps.db, { clientOrgIds: [org.id], from: day, to: day });
    const rate = await deps.exchangeRates.displayRate();
    res.json({
      client_org_id: org.id,
      date: day,
      tokens: Number(totals.inputTokens + totals.outputTokens),
      requests: Number(totals.requests),
      cost: nanoToUsdNumber(totals.billedCostNanoUsd),
      cost_nano_usd: totals.billedCostNanoUsd.toString(),
      ...displayPln(totals.billedCostNanoUsd, rate),
      last_updated: totals.lastUpdated === null ? null : Math.floor(Date.parse(totals.lastUpdated) / 1000),
      exchange_rate_info: displayRateInfo(rate),
    });
  });

  router.post('/usage/manual-record', allow('operator'), async (req, res) => {
    const result = await recordManualUsage(context(req), principalOf(res), manualRecordBody.parse(req.body));
    res.status(result.status === 'recorded' ? 201 : 200).json({
      success: true,
      event_id: result.eventId,
      client_org_id: result.clientOrgId,
      status: result.status,
    });
  });

  return router;
}

/** The webhook authenticates by the org key in its body, so it sits outside token auth. */
export function createWebhookRouter(deps: AppDeps): Router {
  const router = Router();
  router.post('/webhook/openrouter-usage', async (req, res) => {
    const ctx = { ...orgContext(deps, req), ledger: deps.ledger };
    const result = await recordWebhookUsage(ctx, webhookBody.parse(req.body));
    res.json({ success: true, event_id: result.eventId, client_org_id: result.clientOrgId, status: result.status });
  });
  return router;
}
