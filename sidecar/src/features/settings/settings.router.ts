import { Router } from 'express';
import type { AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { requestIdOf } from '../../http/request-log.js';
import { updateSettingsBody } from './settings.schema.js';

/** Global (reseller-wide) settings: admins read them, only the operator changes them. */
export function createSettingsRouter(deps: AppDeps): Router {
  const router = Router();

  router.get('/settings', allow('operator', 'admin'), async (_req, res) => {
    res.json(await deps.settings.view(principalOf(res)));
  });

  router.post('/settings', allow('operator'), async (req, res) => {
    const principal = principalOf(res);
    await deps.settings.update(principal, updateSettingsBody.parse(req.body), requestIdOf(res));
    res.json(await deps.settings.view(principal));
  });

  return router;
}
