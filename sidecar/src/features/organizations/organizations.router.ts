import { Router } from 'express';
import { z } from 'zod';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { createOrganizationBody, updateOrganizationBody } from './organizations.schema.js';
import {
  changeOrganization,
  createOrganization,
  deactivateOrganization,
  organizationViewer,
  requireVisibleOrganization,
  rotateOrganizationKey,
  visibleOrganizations,
} from './organizations.service.js';

const idParam = z.object({ id: z.string().min(1).max(200) });

/** The seeds' "clients" routes: client organizations of a reseller. */
export function createOrganizationsRouter(deps: AppDeps): Router {
  const router = Router();
  const manage = allow('operator', 'admin');

  router.get('/clients', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const orgs = await visibleOrganizations(ctx, principal);
    const view = await organizationViewer(ctx, principal);
    res.json({ clients: orgs.map(view), total: orgs.length });
  });

  router.get('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const org = await requireVisibleOrganization(ctx, principal, idParam.parse(req.params).id);
    res.json((await organizationViewer(ctx, principal))(org));
  });

  router.post('/clients', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const org = await createOrganization(ctx, principal, createOrganizationBody.parse(req.body));
    res.status(201).json((await organizationViewer(ctx, principal))(org));
  });

  router.patch('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const { id } = idParam.parse(req.params);
    const org = await changeOrganization(ctx, principal, id, updateOrganizationBody.parse(req.body));
    res.json((await organizationViewer(ctx, principal))(org));
  });

  router.post('/clients/:id/rotate-key', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const org = await rotateOrganizationKey(ctx, principal, idParam.parse(req.params).id);
    res.json((await organizationViewer(ctx, principal))(org));
  });

  router.delete('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const ctx = orgContext(deps, req);
    const org = await deactivateOrganization(ctx, principal, idParam.parse(req.params).id);
    res.json({ success: true, client: (await organizationViewer(ctx, principal))(org) });
  });

  return router;
}
