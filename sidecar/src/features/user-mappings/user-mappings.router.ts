import { Router } from 'express';
import { z } from 'zod';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { createUserMappingBody, listUserMappingsQuery } from './user-mappings.schema.js';
import { assignUser, unassignUser, userMappingView, visibleUserMappings } from './user-mappings.service.js';

export function createUserMappingsRouter(deps: AppDeps): Router {
  const router = Router();
  const manage = allow('operator', 'admin');

  router.get('/user-mappings', manage, async (req, res) => {
    const { client_org_id } = listUserMappingsQuery.parse(req.query);
    const mappings = await visibleUserMappings(orgContext(deps, req), principalOf(res), client_org_id);
    res.json({ mappings: mappings.map(userMappingView), total: mappings.length });
  });

  router.post('/user-mappings', manage, async (req, res) => {
    const mapping = await assignUser(orgContext(deps, req), principalOf(res), createUserMappingBody.parse(req.body));
    res.status(201).json(userMappingView(mapping));
  });

  router.delete('/user-mappings/:user_id', manage, async (req, res) => {
    const { user_id } = z.object({ user_id: z.string().min(1).max(200) }).parse(req.params);
    await unassignUser(orgContext(deps, req), principalOf(res), user_id);
    res.json({ success: true, user_id });
  });

  return router;
}
