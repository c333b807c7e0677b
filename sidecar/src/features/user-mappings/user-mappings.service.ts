import type { Principal } from '../../http/auth.js';
import { notFound } from '../../http/errors.js';
import { nanoToUsdNumber } from '../../lib/money.js';
import { actorOf, recordAudit } from '../audit/audit.store.js';
import { requireVisibleOrganization, type OrgContext } from '../organizations/organizations.service.js';
import type { CreateUserMappingBody } from './user-mappings.schema.js';
import {
  deleteUserMapping,
  findUserMapping,
  listUserMappings,
  upsertUserMapping,
  type UserMapping,
} from './user-mappings.store.js';

export async function visibleUserMappings(
  ctx: OrgContext,
  principal: Principal,
  clientOrgId: string | undefined,
): Promise<UserMapping[]> {
  if (clientOrgId !== undefined) await requireVisibleOrganization(ctx, principal, clientOrgId);
  const instanceId = principal.kind === 'operator' ? undefined : ctx.instanceId;
  return listUserMappings(ctx.db, { instanceId, clientOrgId });
}

/** Creates or moves a mapping. Past usage stays with the org it was recorded under. */
export async function assignUser(
  ctx: OrgContext,
  principal: Principal,
  body: CreateUserMappingBody,
): Promise<UserMapping> {
  const org = await requireVisibleOrganization(ctx, principal, body.client_org_id);
  const existing = await findUserMapping(ctx.db, org.instanceId, body.user_id);
  const at = ctx.now().toISOString();
  const mapping: UserMapping = {
    instanceId: org.instanceId,
    userId: body.user_id,
    clientOrgId: org.id,
    openRouterUserId: body.openrouter_user_id ?? existing?.openRouterUserId ?? body.user_id,
    userEmail: body.user_email ?? existing?.userEmail ?? null,
    userName: body.user_name ?? existing?.userName ?? null,
    active: body.is_active ?? existing?.active ?? true,
    monthlyLimitNanoUsd:
      body.monthly_limit_usd === undefined ? (existing?.monthlyLimitNanoUsd ?? null) : body.monthly_limit_usd,
    source: 'manual',
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
  await upsertUserMapping(ctx.db, mapping);
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: existing ? 'user_mapping.update' : 'user_mapping.create',
      targetType: 'user_client_mapping',
      targetId: mapping.userId,
      details: { client_org_id: mapping.clientOrgId, previous_client_org_id: existing?.clientOrgId ?? null },
      requestId: ctx.requestId,
    },
    at,
  );
  return mapping;
}

/** Removes a mapping of this instance; the user's next usage goes to the default org. */
export async function unassignUser(ctx: OrgContext, principal: Principal, userId: string): Promise<void> {
  const existing = await findUserMapping(ctx.db, ctx.instanceId, userId);
  if (!existing) throw notFound(`no mapping for user ${userId}`);
  await requireVisibleOrganization(ctx, principal, existing.clientOrgId);
  await deleteUserMapping(ctx.db, ctx.instanceId, userId);
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: 'user_mapping.delete',
      targetType: 'user_client_mapping',
      targetId: userId,
      details: { client_org_id: existing.clientOrgId },
      requestId: ctx.requestId,
    },
    ctx.now().toISOString(),
  );
}

export function userMappingView(mapping: UserMapping) {
  return {
    user_id: mapping.userId,
    client_org_id: mapping.clientOrgId,
    openrouter_user_id: mapping.openRouterUserId,
    user_email: mapping.userEmail,
    user_name: mapping.userName,
    is_active: mapping.active,
    monthly_limit_usd: mapping.monthlyLimitNanoUsd === null ? null : nanoToUsdNumber(mapping.monthlyLimitNanoUsd),
    source: mapping.source,
    created_at: mapping.createdAt,
    updated_at: mapping.updatedAt,
  };
}
