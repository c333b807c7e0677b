import { apiJson, ORGS, type ApiConfig } from './client.js';
import type { Organization, OrganizationChanges } from './types.js';

export async function listClients(config: ApiConfig): Promise<Organization[]> {
  const body = await apiJson<{ clients: Organization[] }>(config, `${ORGS}/clients`);
  return body.clients;
}

export function updateClient(config: ApiConfig, id: string, changes: OrganizationChanges): Promise<Organization> {
  return apiJson(config, `${ORGS}/clients/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: JSON.stringify(changes),
  });
}
