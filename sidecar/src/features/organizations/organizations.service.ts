import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/dialect.js';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import type { Principal } from '../../http/auth.js';
import { encryptSecret, maskKey, sha256Hex } from '../../lib/crypto.js';
import { formatMarkupRate, nanoToUsdNumber } from '../../lib/money.js';
import { actorOf, recordAudit } from '../audit/audit.store.js';
import { readGlobalSettings } from '../settings/settings.store.js';
import {
  deleteProvisionedKey,
  provisionKey,
  updateProvisionedKey,
  type KeyFields,
  type Provisioning,
} from '../provisioning/provisioning.service.js';
import { findUserMapping } from '../user-mappings/user-mappings.store.js';
import type { CreateOrganizationBody, UpdateOrganizationBody } from './organizations.schema.js';
import {
  findOrganization,
  findOrganizationByKeySha256,
  insertOrganization,
  insertOrganizationIfMissing,
  listOrganizations,
  updateOrganization,
  type Organization,
} from './organizations.store.js';

export type OrgContext = {
  db: Db;
  /** Per-org OpenRouter keys through the management key. */
  provisioning: Provisioning;
  instanceId: string;
  encryptionKey: Buffer;
  defaultMarkupRatePpm: () => Promise<bigint>;
  requestId: string | null;
  now: () => Date;
};

export function defaultOrganizationId(instanceId: string): string {
  return `org_default_${instanceId}`;
}

/** The org every unmapped user lands in; created on first use, idempotently. */
export async function ensureDefaultOrganization(
  db: Db,
  options: { instanceId: string; markupRatePpm: bigint; at: string },
): Promise<Organization> {
  const id = defaultOrganizationId(options.instanceId);
  const existing = await findOrganization(db, id);
  if (existing) return existing;
  await insertOrganizationIfMissing(db, {
    id,
    instanceId: options.instanceId,
    name: 'Default organization',
    isDefault: true,
    active: true,
    markupRatePpm: options.markupRatePpm,
    monthlyLimitNanoUsd: null,
    billingContactName: null,
    billingContactEmail: null,
    openRouterKeyEncrypted: null,
    openRouterKeySha256: null,
    openRouterKeyLabel: null,
    openRouterKeyHash: null,
    createdAt: options.at,
    updatedAt: options.at,
  });
  const created = await findOrganization(db, id);
  if (!created) throw new Error(`default organization ${id} could not be created`);
  return created;
}

/** The orgs a caller may see: all (operator), this instance's (admin), their own (user). */
export async function visibleOrganizations(ctx: OrgContext, principal: Principal): Promise<Organization[]> {
  if (principal.kind === 'operator') return listOrganizations(ctx.db);
  if (principal.kind === 'admin') return listOrganizations(ctx.db, ctx.instanceId);
  const own = await ownOrganization(ctx, principal);
  return own ? [own] : [];
}

/** A signed-in user's org: their mapping's, else this instance's default org. */
export async function ownOrganization(ctx: OrgContext, principal: Principal): Promise<Organization | undefined> {
  if (principal.kind !== 'user' && principal.kind !== 'admin') return undefined;
  const mapping = await findUserMapping(ctx.db, ctx.instanceId, principal.userId);
  return findOrganization(ctx.db, mapping?.clientOrgId ?? defaultOrganizationId(ctx.instanceId));
}

/** Loads an org the caller may act on, or answers 404 (never revealing other tenants' orgs). */
export async function requireVisibleOrganization(
  ctx: OrgContext,
  principal: Principal,
  id: string,
): Promise<Organization> {
  const org = await findOrganization(ctx.db, id);
  const visible =
    org &&
    (principal.kind === 'operator' ||
      (principal.kind === 'admin' && org.instanceId === ctx.instanceId) ||
      (principal.kind === 'user' && (await ownOrganization(ctx, principal))?.id === org.id));
  if (!visible) throw notFound(`client organization ${id} not found`);
  return org;
}

/** A key set by hand replaces any provisioned one (whose hash no longer applies). */
function keyFields(ctx: OrgContext, key: string | null): KeyFields {
  return key === null
    ? { openRouterKeyEncrypted: null, openRouterKeySha256: null, openRouterKeyLabel: null, openRouterKeyHash: null }
    : {
        openRouterKeyEncrypted: encryptSecret(key, ctx.encryptionKey),
        openRouterKeySha256: sha256Hex(key),
        openRouterKeyLabel: maskKey(key),
        openRouterKeyHash: null,
      };
}

/** A key identifies its org (the webhook authenticates by it), so two orgs cannot share one. */
async function assertKeyUnused(ctx: OrgContext, keySha256: string | null, orgId: string) {
  if (keySha256 === null) return;
  const holder = await findOrganizationByKeySha256(ctx.db, keySha256);
  if (holder && holder.id !== orgId) {
    throw conflict('openrouter_api_key: this key is already used by another client organization');
  }
}

/** An Open WebUI admin may see and set its orgs' markup only when the operator allows it. */
async function adminMaySetMarkup(ctx: OrgContext, principal: Principal): Promise<boolean> {
  return principal.kind === 'admin' && (await readGlobalSettings(ctx.db)).adminMaySetMarkup;
}

/**
 * Tenant placement is the reseller's decision, and so is markup unless the operator has turned
 * on `admin_may_set_markup` (then an admin may set it on the orgs it can see: its instance's).
 */
async function assertOperatorOnlyFields(
  ctx: OrgContext,
  principal: Principal,
  body: { markup_rate?: unknown; instance_id?: unknown },
) {
  if (principal.kind === 'operator') return;
  if (body.instance_id !== undefined) throw forbidden('instance_id can only be set by the operator');
  if (body.markup_rate !== undefined && !(await adminMaySetMarkup(ctx, principal))) {
    throw forbidden('markup_rate can only be set by the operator');
  }
}

export async function createOrganization(
  ctx: OrgContext,
  principal: Principal,
  body: CreateOrganizationBody,
): Promise<Organization> {
  await assertOperatorOnlyFields(ctx, principal, body);
  if (body.provision_openrouter_key && body.openrouter_api_key) {
    throw badRequest('provision_openrouter_key: give either openrouter_api_key or provision_openrouter_key, not both');
  }
  const at = ctx.now().toISOString();
  const draft: Organization = {
    id: `org_${randomBytes(8).toString('hex')}`,
    instanceId: body.instance_id ?? ctx.instanceId,
    name: body.name,
    isDefault: false,
    active: body.is_active ?? true,
    markupRatePpm: body.markup_rate ?? (await ctx.defaultMarkupRatePpm()),
    monthlyLimitNanoUsd: body.monthly_limit_usd ?? null,
    billingContactName: body.billing_contact_name ?? null,
    billingContactEmail: body.billing_contact_email ?? null,
    ...keyFields(ctx, body.openrouter_api_key ?? null),
    createdAt: at,
    updatedAt: at,
  };
  await assertKeyUnused(ctx, draft.openRouterKeySha256, draft.id);
  const org = body.provision_openrouter_key ? { ...draft, ...(await provisionKey(ctx.provisioning, draft)) } : draft;
  try {
    await insertOrganization(ctx.db, org);
  } catch (error) {
    // Never leave a paid key behind for an org that does not exist.
    if (org.openRouterKeyHash)
      await deleteProvisionedKey(ctx.provisioning, org.openRouterKeyHash).catch(() => undefined);
    throw error;
  }
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: 'organization.create',
      targetType: 'client_organization',
      targetId: org.id,
      details: { ...organizationView(org, { kind: 'operator' }) },
      requestId: ctx.requestId,
    },
    at,
  );
  return org;
}

export async function changeOrganization(
  ctx: OrgContext,
  principal: Principal,
  id: string,
  body: UpdateOrganizationBody,
): Promise<Organization> {
  await assertOperatorOnlyFields(ctx, principal, body);
  const org = await requireVisibleOrganization(ctx, principal, id);
  const at = ctx.now().toISOString();
  const changes: Partial<Organization> = {
    name: body.name,
    active: body.is_active,
    markupRatePpm: body.markup_rate,
    monthlyLimitNanoUsd: body.monthly_limit_usd,
    billingContactName: body.billing_contact_name,
    billingContactEmail: body.billing_contact_email,
    instanceId: body.instance_id,
    ...(body.openrouter_api_key === undefined ? {} : keyFields(ctx, body.openrouter_api_key)),
    updatedAt: at,
  };
  await assertKeyUnused(ctx, changes.openRouterKeySha256 ?? null, org.id);
  // OpenRouter first: if the key cannot follow the new limit or state, nothing changes here.
  const next = { ...org, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
  const keyAffected =
    next.monthlyLimitNanoUsd !== org.monthlyLimitNanoUsd ||
    next.markupRatePpm !== org.markupRatePpm ||
    next.active !== org.active;
  if (org.openRouterKeyHash && body.openrouter_api_key === undefined && keyAffected) {
    await updateProvisionedKey(ctx.provisioning, next);
  }
  await updateOrganization(ctx.db, org.id, changes);
  const updated = (await findOrganization(ctx.db, org.id))!;
  const { openrouter_api_key: key, ...audited } = body;
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: 'organization.update',
      targetType: 'client_organization',
      targetId: org.id,
      details: { ...audited, ...(key === undefined ? {} : { openrouter_key: updated.openRouterKeyLabel }) },
      requestId: ctx.requestId,
    },
    at,
  );
  return updated;
}

/** A new provisioned key for the org; the old provisioned key is deleted at OpenRouter. */
export async function rotateOrganizationKey(ctx: OrgContext, principal: Principal, id: string): Promise<Organization> {
  const org = await requireVisibleOrganization(ctx, principal, id);
  const at = ctx.now().toISOString();
  const fresh = await provisionKey(ctx.provisioning, org);
  await updateOrganization(ctx.db, org.id, { ...fresh, updatedAt: at });
  if (org.openRouterKeyHash) await deleteProvisionedKey(ctx.provisioning, org.openRouterKeyHash);
  await recordAudit(
    ctx.db,
    {
      actor: actorOf(principal),
      action: 'organization.rotate_key',
      targetType: 'client_organization',
      targetId: org.id,
      details: { previous_key: org.openRouterKeyLabel, new_key: fresh.openRouterKeyLabel },
      requestId: ctx.requestId,
    },
    at,
  );
  return (await findOrganization(ctx.db, org.id))!;
}

/** DELETE deactivates: the org's usage, mappings and billing history stay. */
export async function deactivateOrganization(ctx: OrgContext, principal: Principal, id: string): Promise<Organization> {
  return changeOrganization(ctx, principal, id, { is_active: false });
}

/** The view for this caller, with the setting it depends on read once per request. */
export async function organizationViewer(
  ctx: OrgContext,
  principal: Principal,
): Promise<(org: Organization) => ReturnType<typeof organizationView>> {
  const markupVisible = await adminMaySetMarkup(ctx, principal);
  return (org) => organizationView(org, principal, { markupVisible });
}

/**
 * The JSON of an org; instance and markup only for the operator, and markup also for an admin
 * allowed to set it (`markupVisible`).
 */
export function organizationView(org: Organization, principal: Principal, options: { markupVisible?: boolean } = {}) {
  return {
    id: org.id,
    name: org.name,
    is_active: org.active,
    is_default: org.isDefault,
    monthly_limit_usd: org.monthlyLimitNanoUsd === null ? null : nanoToUsdNumber(org.monthlyLimitNanoUsd),
    monthly_limit_nano_usd: org.monthlyLimitNanoUsd === null ? null : org.monthlyLimitNanoUsd.toString(),
    billing_contact_name: org.billingContactName,
    billing_contact_email: org.billingContactEmail,
    has_openrouter_key: org.openRouterKeyEncrypted !== null,
    openrouter_key_label: org.openRouterKeyLabel,
    created_at: org.createdAt,
    updated_at: org.updatedAt,
    ...(principal.kind === 'operator' ? { instance_id: org.instanceId } : {}),
    ...(principal.kind === 'operator' || options.markupVisible
      ? { markup_rate: Number(formatMarkupRate(org.markupRatePpm)) }
      : {}),
  };
}
