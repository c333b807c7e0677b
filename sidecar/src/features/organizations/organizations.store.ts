import type { Db } from '../../db/dialect.js';
import { intParam, toBool } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

export type Organization = {
  id: string;
  instanceId: string;
  name: string;
  isDefault: boolean;
  active: boolean;
  markupRatePpm: bigint;
  monthlyLimitNanoUsd: bigint | null;
  billingContactName: string | null;
  billingContactEmail: string | null;
  openRouterKeyEncrypted: string | null;
  openRouterKeySha256: string | null;
  openRouterKeyLabel: string | null;
  openRouterKeyHash: string | null;
  createdAt: string;
  updatedAt: string;
};

type Row = Record<string, unknown>;
const text = (value: unknown) => (value === null || value === undefined ? null : String(value));

function rowToOrganization(row: Row): Organization {
  return {
    id: String(row.id),
    instanceId: String(row.instance_id),
    name: String(row.name),
    isDefault: toBool(row.is_default),
    active: toBool(row.active),
    markupRatePpm: toBigInt(row.markup_rate_ppm),
    monthlyLimitNanoUsd: row.monthly_limit_nano_usd === null ? null : toBigInt(row.monthly_limit_nano_usd),
    billingContactName: text(row.billing_contact_name),
    billingContactEmail: text(row.billing_contact_email),
    openRouterKeyEncrypted: text(row.openrouter_key_encrypted),
    openRouterKeySha256: text(row.openrouter_key_sha256),
    openRouterKeyLabel: text(row.openrouter_key_label),
    openRouterKeyHash: text(row.openrouter_key_hash),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function organizationToRow(org: Partial<Organization>): Row {
  const row: Row = {};
  const set = (column: string, value: unknown) => {
    if (value !== undefined) row[column] = typeof value === 'bigint' ? intParam(value) : value;
  };
  set('id', org.id);
  set('instance_id', org.instanceId);
  set('name', org.name);
  set('is_default', org.isDefault);
  set('active', org.active);
  set('markup_rate_ppm', org.markupRatePpm);
  set('monthly_limit_nano_usd', org.monthlyLimitNanoUsd);
  set('billing_contact_name', org.billingContactName);
  set('billing_contact_email', org.billingContactEmail);
  set('openrouter_key_encrypted', org.openRouterKeyEncrypted);
  set('openrouter_key_sha256', org.openRouterKeySha256);
  set('openrouter_key_label', org.openRouterKeyLabel);
  set('openrouter_key_hash', org.openRouterKeyHash);
  set('created_at', org.createdAt);
  set('updated_at', org.updatedAt);
  return row;
}

export async function findOrganization(db: Db, id: string): Promise<Organization | undefined> {
  const row = await db('client_organizations').where({ id }).first();
  return row ? rowToOrganization(row) : undefined;
}

export async function findOrganizations(db: Db, ids: string[]): Promise<Organization[]> {
  if (ids.length === 0) return [];
  const rows = await db('client_organizations').whereIn('id', ids);
  return rows.map(rowToOrganization);
}

/** All orgs, or one instance's; the operator passes no instance. */
export async function listOrganizations(db: Db, instanceId?: string): Promise<Organization[]> {
  const query = db('client_organizations').orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (instanceId !== undefined) void query.where({ instance_id: instanceId });
  return (await query).map(rowToOrganization);
}

export async function findOrganizationByKeySha256(db: Db, sha256: string): Promise<Organization | undefined> {
  const row = await db('client_organizations').where({ openrouter_key_sha256: sha256 }).first();
  return row ? rowToOrganization(row) : undefined;
}

export async function insertOrganization(db: Db, org: Organization): Promise<void> {
  await db('client_organizations').insert(organizationToRow(org));
}

/** Inserts unless an org with that id exists (concurrent sidecars may race to create it). */
export async function insertOrganizationIfMissing(db: Db, org: Organization): Promise<void> {
  await db('client_organizations').insert(organizationToRow(org)).onConflict('id').ignore();
}

export async function updateOrganization(db: Db, id: string, changes: Partial<Organization>): Promise<void> {
  await db('client_organizations').where({ id }).update(organizationToRow(changes));
}
