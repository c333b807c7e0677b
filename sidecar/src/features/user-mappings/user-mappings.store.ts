import type { Db } from '../../db/dialect.js';
import { intParam, toBool } from '../../db/dialect.js';
import { toBigInt } from '../../lib/money.js';

export type UserMapping = {
  instanceId: string;
  userId: string;
  clientOrgId: string;
  openRouterUserId: string | null;
  userEmail: string | null;
  userName: string | null;
  active: boolean;
  monthlyLimitNanoUsd: bigint | null;
  source: 'learned' | 'manual';
  createdAt: string;
  updatedAt: string;
};

type Row = Record<string, unknown>;
const text = (value: unknown) => (value === null || value === undefined ? null : String(value));

function rowToUserMapping(row: Row): UserMapping {
  return {
    instanceId: String(row.instance_id),
    userId: String(row.user_id),
    clientOrgId: String(row.client_org_id),
    openRouterUserId: text(row.openrouter_user_id),
    userEmail: text(row.user_email),
    userName: text(row.user_name),
    active: toBool(row.active),
    monthlyLimitNanoUsd: row.monthly_limit_nano_usd === null ? null : toBigInt(row.monthly_limit_nano_usd),
    source: row.source === 'manual' ? 'manual' : 'learned',
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function userMappingToRow(mapping: UserMapping): Row {
  return {
    instance_id: mapping.instanceId,
    user_id: mapping.userId,
    client_org_id: mapping.clientOrgId,
    openrouter_user_id: mapping.openRouterUserId,
    user_email: mapping.userEmail,
    user_name: mapping.userName,
    active: mapping.active,
    monthly_limit_nano_usd: mapping.monthlyLimitNanoUsd === null ? null : intParam(mapping.monthlyLimitNanoUsd),
    source: mapping.source,
    created_at: mapping.createdAt,
    updated_at: mapping.updatedAt,
  };
}

const CHUNK = 500;

export async function findUserMappings(db: Db, instanceId: string, userIds: string[]): Promise<UserMapping[]> {
  const found: UserMapping[] = [];
  for (let i = 0; i < userIds.length; i += CHUNK) {
    const rows = await db('user_client_mappings')
      .where({ instance_id: instanceId })
      .whereIn('user_id', userIds.slice(i, i + CHUNK));
    found.push(...rows.map(rowToUserMapping));
  }
  return found;
}

export async function findUserMapping(db: Db, instanceId: string, userId: string): Promise<UserMapping | undefined> {
  const [mapping] = await findUserMappings(db, instanceId, [userId]);
  return mapping;
}

/**
 * The user an OpenRouter `external_user` belongs to within an org: the filter sends the Open
 * WebUI user id as OpenRouter's `user`, and a mapping may name another id explicitly.
 */
export async function findUserMappingByExternalUser(
  db: Db,
  clientOrgId: string,
  externalUser: string,
): Promise<UserMapping | undefined> {
  const row = await db('user_client_mappings')
    .where({ client_org_id: clientOrgId })
    .where((q) => void q.where({ openrouter_user_id: externalUser }).orWhere({ user_id: externalUser }))
    .first();
  return row ? rowToUserMapping(row) : undefined;
}

/** One instance's mappings, or those of the given orgs (an admin sees its instance only). */
export async function listUserMappings(
  db: Db,
  filter: { instanceId?: string; clientOrgId?: string },
): Promise<UserMapping[]> {
  const query = db('user_client_mappings').orderBy([{ column: 'client_org_id' }, { column: 'user_id' }]);
  if (filter.instanceId !== undefined) void query.where({ instance_id: filter.instanceId });
  if (filter.clientOrgId !== undefined) void query.where({ client_org_id: filter.clientOrgId });
  return (await query).map(rowToUserMapping);
}

/** Learned mappings never overwrite an existing one (a concurrent request or an admin's). */
export async function insertUserMappingsIfMissing(db: Db, mappings: UserMapping[]): Promise<void> {
  for (let i = 0; i < mappings.length; i += CHUNK) {
    await db('user_client_mappings')
      .insert(mappings.slice(i, i + CHUNK).map(userMappingToRow))
      .onConflict(['instance_id', 'user_id'])
      .ignore();
  }
}

export async function upsertUserMapping(db: Db, mapping: UserMapping): Promise<void> {
  const row = userMappingToRow(mapping);
  const { created_at: _createdAt, ...changes } = row;
  await db('user_client_mappings').insert(row).onConflict(['instance_id', 'user_id']).merge(changes);
}

export async function deleteUserMapping(db: Db, instanceId: string, userId: string): Promise<number> {
  return db('user_client_mappings').where({ instance_id: instanceId, user_id: userId }).delete();
}

/** Keeps the name and email shown in reports current as users appear in events. */
export async function updateUserIdentity(
  db: Db,
  instanceId: string,
  userId: string,
  identity: { userEmail: string | null; userName: string | null; updatedAt: string },
): Promise<void> {
  await db('user_client_mappings')
    .where({ instance_id: instanceId, user_id: userId })
    .update({ user_email: identity.userEmail, user_name: identity.userName, updated_at: identity.updatedAt });
}
