import { Router } from 'express';
import { z } from 'zod';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { createOrganizationBody, updateOrganizationBody } from './organizations.schema.js';
import {
  changeOrganization,
  createOrganization,
  deactivateOrganization,
  organizationView,
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
    const orgs = await visibleOrganizations(orgContext(deps, req), principal);
    res.json({ clients: orgs.map((org) => organizationView(org, principal)), total: orgs.length });
  });

  router.get('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const org = await requireVisibleOrganization(orgContext(deps, req), principal, idParam.parse(req.params).id);
    res.json(organizationView(org, principal));
  });

  router.post('/clients', manage, async (req, res) => {
    const principal = principalOf(res);
    const org = await createOrganization(orgContext(deps, req), principal, createOrganizationBody.parse(req.body));
    res.status(201).json(organizationView(org, principal));
  });

  router.patch('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const { id } = idParam.parse(req.params);
    const org = await changeOrganization(orgContext(deps, req), principal, id, updateOrganizationBody.parse(req.body));
    res.json(organizationView(org, principal));
  });

  router.post('/clients/:id/rotate-key', manage, async (req, res) => {
    const principal = principalOf(res);
    const org = await rotateOrganizationKey(orgContext(deps, req), principal, idParam.parse(req.params).id);
    res.json(organizationView(org, principal));
  });

  router.delete('/clients/:id', manage, async (req, res) => {
    const principal = principalOf(res);
    const org = await deactivateOrganization(orgContext(deps, req), principal, idParam.parse(req.params).id);
    res.json({ success: true, client: organizationView(org, principal) });
  });

  return router;
}
