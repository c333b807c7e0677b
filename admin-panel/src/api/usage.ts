import { apiFetch, apiJson, ORGS, query, type ApiConfig } from './client.js';
import type { BillingSummary, ExportFormat, Period, UsageByModel, UsageByUser, UsageSummary } from './types.js';

export type PeriodQuery = { month?: string } & Partial<Period>;

function periodParams(period: PeriodQuery | undefined): Record<string, string | undefined> {
  if (!period) return {};
  return period.month ? { month: period.month } : { from: period.from, to: period.to };
}

/** Admin/operator: the dashboard figures of one org (default: the admin's own). */
export function getUsageSummary(config: ApiConfig, clientId?: string): Promise<UsageSummary> {
  return apiJson(config, `${ORGS}/usage/summary${query({ client_id: clientId })}`);
}

/** Any signed-in user: the same figures for their own org. */
export function getMyOrganizationUsage(config: ApiConfig): Promise<UsageSummary> {
  return apiJson(config, `${ORGS}/usage/my-organization`);
}

export function getUsageByUser(config: ApiConfig, clientId: string, period?: PeriodQuery): Promise<UsageByUser> {
  return apiJson(config, `${ORGS}/usage/by-user/${encodeURIComponent(clientId)}${query(periodParams(period))}`);
}

export function getUsageByModel(config: ApiConfig, clientId: string, period?: PeriodQuery): Promise<UsageByModel> {
  return apiJson(config, `${ORGS}/usage/by-model/${encodeURIComponent(clientId)}${query(periodParams(period))}`);
}

export function getBillingSummary(config: ApiConfig, month?: string): Promise<BillingSummary> {
  return apiJson(config, `${ORGS}/usage/billing${query({ month })}`);
}

export type ExportRequest = { format: ExportFormat; clientId?: string; from: string; to: string };

/** The ledger rows of a period as a file; the Bearer header rules out a plain link. */
export async function downloadUsageExport(
  config: ApiConfig,
  request: ExportRequest,
): Promise<{ blob: Blob; filename: string }> {
  const response = await apiFetch(
    config,
    `${ORGS}/usage/export${query({ format: request.format, client_id: request.clientId, from: request.from, to: request.to })}`,
    { headers: { accept: request.format === 'csv' ? 'text/csv' : 'application/json' } },
  );
  const disposition = response.headers.get('content-disposition') ?? '';
  const filename =
    /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? `mai-usage_${request.from}_${request.to}.${request.format}`;
  return { blob: await response.blob(), filename };
}
