import { Router } from 'express';
import type { AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { monthOf, today } from '../../lib/time.js';
import { listAlertsQuery } from './alerts.schema.js';
import { alertListView, visibleAlerts } from './alerts.service.js';

/** `GET alerts?month=` under /api/v1/client-organizations: the limit alerts of a billing month. */
export function createAlertsRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/alerts', allow('operator', 'admin'), async (req, res) => {
    const query = listAlertsQuery.parse(req.query);
    const month = query.month ?? monthOf(today(deps.config.billingTimeZone, deps.now()));
    const alerts = await visibleAlerts(deps.db, principalOf(res), {
      instanceId: deps.config.instanceId,
      period: month,
      clientOrgId: query.client_org_id,
    });
    res.json({
      month,
      alerts: alerts.map((alert) => alertListView(alert, deps.alerts.webhookConfigured)),
      total: alerts.length,
    });
  });
  return router;
}
