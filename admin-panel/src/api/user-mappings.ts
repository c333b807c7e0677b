import { apiJson, ORGS, query, type ApiConfig } from './client.js';
import type { UserMapping, UserMappingInput } from './types.js';

export async function listUserMappings(config: ApiConfig, clientOrgId?: string): Promise<UserMapping[]> {
  const body = await apiJson<{ mappings: UserMapping[] }>(
    config,
    `${ORGS}/user-mappings${query({ client_org_id: clientOrgId })}`,
  );
  return body.mappings;
}

/** Creates or moves a mapping (past usage stays with the old org). */
export function saveUserMapping(config: ApiConfig, input: UserMappingInput): Promise<UserMapping> {
  return apiJson(config, `${ORGS}/user-mappings`, { method: 'POST', body: JSON.stringify(input) });
}

export async function deleteUserMapping(config: ApiConfig, userId: string): Promise<void> {
  await apiJson(config, `${ORGS}/user-mappings/${encodeURIComponent(userId)}`, { method: 'DELETE' });
}
