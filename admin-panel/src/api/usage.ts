import { apiFetch, apiJson, ORGS, query, type ApiConfig } from './client.js';
import type {
  BillingCsvDialect,
  BillingSummary,
  ExportFormat,
  MyOrganizationUsage,
  Period,
  UsageByModel,
  UsageByUser,
  UsageSummary,
} from './types.js';

export type PeriodQuery = { month?: string } & Partial<Period>;

function periodParams(period: PeriodQuery | undefined): Record<string, string | undefined> {
  if (!period) return {};
  return period.month ? { month: period.month } : { from: period.from, to: period.to };
}

/** Admin/operator: the dashboard figures of one org (default: the admin's own). */
export function getUsageSummary(config: ApiConfig, clientId?: string): Promise<UsageSummary> {
  return apiJson(config, `${ORGS}/usage/summary${query({ client_id: clientId })}`);
}

/** Any signed-in user: the same figures for their own org, plus their own (`stats.me`). */
export function getMyOrganizationUsage(config: ApiConfig): Promise<MyOrganizationUsage> {
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

/** The month's billing statement as CSV (RFC 4180, or `pl` for Polish Excel). */
export async function downloadBillingCsv(
  config: ApiConfig,
  month: string,
  dialect: BillingCsvDialect,
): Promise<{ blob: Blob; filename: string }> {
  const response = await apiFetch(
    config,
    `${ORGS}/usage/billing${query({ month, format: 'csv', dialect: dialect === 'pl' ? 'pl' : undefined })}`,
    { headers: { accept: 'text/csv' } },
  );
  return {
    blob: await response.blob(),
    filename: filenameOf(response, `mai-usage_billing_${month}${dialect === 'pl' ? '_pl' : ''}.csv`),
  };
}

function filenameOf(response: Response, fallback: string): string {
  return /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallback;
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
  const filename = filenameOf(response, `mai-usage_${request.from}_${request.to}.${request.format}`);
  return { blob: await response.blob(), filename };
}
