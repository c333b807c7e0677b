import { Router, type RequestHandler } from 'express';
import type { AppDeps } from '../../deps.js';
import { allow } from '../../http/auth.js';
import type { LimitState } from './limits.cache.js';
import { limitCheckQuery } from './limits.schema.js';

/** The filter's inlet asks this before every chat turn; it is answered from memory. */
export function createLimitsRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/check', allow('ingest', 'operator'), async (req, res) => {
    const { user_id } = limitCheckQuery.parse(req.query);
    res.json(deps.limits.checkFromMemory(user_id) ?? (await deps.limits.check(user_id)));
  });
  return router;
}

/**
 * Mounted before the routes that write orgs and mappings: once such a request is answered (its
 * writes committed; a failed one may have written part), the check re-reads the limits first.
 */
export function invalidateLimitsOnWrite(limits: LimitState): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      res.on('finish', () => limits.invalidate());
    }
    next();
  };
}
