import { apiJson, query, type ApiConfig } from './client.js';
import type { Reconciliation } from './types.js';

/** OpenRouter's figures against the ledger's, from `since` (YYYY-MM or YYYY-MM-DD) on. */
export function getReconciliation(config: ApiConfig, since?: string, clientOrgId?: string): Promise<Reconciliation> {
  return apiJson(config, `/api/v1/usage-tracking/reconciliation${query({ since, client_org_id: clientOrgId })}`);
}
