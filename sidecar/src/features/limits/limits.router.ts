import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { allow } from '../../http/auth.js';
import { checkLimits } from './limits.service.js';

/** The filter's inlet asks this before every chat turn. */
export function createLimitsRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/check', allow('ingest', 'operator'), async (req, res) => {
    const { user_id } = z.object({ user_id: z.string().min(1, 'must not be empty').max(256) }).parse(req.query);
    res.json(
      await checkLimits(deps.db, {
        instanceId: deps.config.instanceId,
        timeZone: deps.config.billingTimeZone,
        userId: user_id,
        now: deps.now(),
      }),
    );
  });
  return router;
}
