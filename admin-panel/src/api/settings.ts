import { apiJson, ORGS, type ApiConfig } from './client.js';
import type { InstanceSettings } from './types.js';

export function getSettings(config: ApiConfig): Promise<InstanceSettings> {
  return apiJson(config, `${ORGS}/settings`);
}
