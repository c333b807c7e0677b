import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import type { AppDeps } from '../../deps.js';
import { bearerToken } from '../../http/auth.js';
import { AppError } from '../../http/errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics (Prometheus text format).
 *
 * Who may scrape: `Authorization: Bearer $METRICS_TOKEN`, or the operator's ADMIN_TOKEN. Without
 * METRICS_TOKEN only the operator token works — deny by default: the metrics name orgs and
 * their reconciliation drift. A separate METRICS_TOKEN keeps the operator token out of
 * Prometheus's configuration.
 */
export function createMetricsRouter(deps: Pick<AppDeps, 'config' | 'metrics'>): Router {
  const router = Router();
  const accepted = [deps.config.metricsToken, deps.config.adminToken].filter(Boolean).map((t) => digest(t!));
  const mayScrape = (req: Request) => {
    const token = bearerToken(req);
    if (!token) return false;
    const given = digest(token);
    // Every candidate is compared, so the time taken does not say which one matched.
    return accepted.reduce((ok, candidate) => timingSafeEqual(given, candidate) || ok, false);
  };

  router.get('/metrics', async (req, res) => {
    if (!mayScrape(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new AppError(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>');
    }
    const body = await deps.metrics.registry.metrics();
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.setHeader('cache-control', 'no-store');
    res.send(body);
  });

  return router;
}
