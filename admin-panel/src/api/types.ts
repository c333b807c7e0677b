/** Response shapes of the sidecar API (docs/api.md). PLN fields are optional: no rate, no PLN. */

/** NBP rate details as the sidecar reports them; every field optional across versions. */
export type ExchangeRateInfo = {
  usd_pln?: number;
  rate?: number;
  effective_date?: string;
  table_no?: string;
  source?: string;
};

/** PLN fields any response or totals object may carry once the rate feature is on. */
export type PlnFields = {
  cost_pln?: number | null;
  exchange_rate?: number | null;
  exchange_rate_date?: string | null;
  exchange_rate_info?: ExchangeRateInfo | string | null;
  pln_available?: boolean;
};

export type Totals = PlnFields & {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  tokens: number;
  total_tokens: number;
  cost: number;
  cost_nano_usd: string;
  pending_cost_requests: number;
  raw_cost?: number;
  raw_cost_nano_usd?: string;
  profit?: number;
  profit_nano_usd?: string;
};

export type DayTotals = Totals & { date: string };

export type MonthTotals = Totals & {
  month: string;
  days_active: number;
  days_elapsed: number;
  daily_average_cost: number;
  daily_average_cost_nano_usd: string;
  daily_average_cost_pln?: number | null;
  monthly_limit_usd: number | null;
  limit_used_pct: number | null;
  last_updated: string | null;
};

export type UsageSummary = PlnFields & {
  success: boolean;
  client_org_id: string;
  client_name: string;
  currency: string;
  stats: {
    today: DayTotals & { last_updated: string | null };
    this_month: MonthTotals;
    daily_history: DayTotals[];
  };
};

export type Period = { from: string; to: string };

export type UserUsage = Totals & {
  user_id: string;
  user_email: string | null;
  user_name: string | null;
  cost_share_pct: number;
};

export type ModelUsage = Totals & { model: string; provider: string | null; cost_share_pct: number };

export type UsageByUser = PlnFields & {
  success: boolean;
  client_org_id: string;
  client_name: string;
  period: Period;
  users: UserUsage[];
  totals: Totals;
};

export type UsageByModel = PlnFields & {
  success: boolean;
  client_org_id: string;
  client_name: string;
  period: Period;
  models: ModelUsage[];
  totals: Totals;
};

export type BillingRow = Totals & {
  client_org_id: string;
  client_name: string;
  is_active: boolean;
  markup_rate?: number;
  monthly_limit_usd: number | null;
  limit_used_pct: number | null;
};

export type BillingSummary = PlnFields & {
  success: boolean;
  month: string;
  period: Period;
  currency: string;
  clients: BillingRow[];
  totals: Totals;
};

export type Organization = {
  id: string;
  name: string;
  is_active: boolean;
  is_default: boolean;
  monthly_limit_usd: number | null;
  monthly_limit_nano_usd: string | null;
  billing_contact_name: string | null;
  billing_contact_email: string | null;
  has_openrouter_key: boolean;
  openrouter_key_label: string | null;
  created_at: string;
  updated_at: string;
  instance_id?: string;
  markup_rate?: number;
};

export type OrganizationChanges = Partial<{
  name: string;
  markup_rate: number | string;
  monthly_limit_usd: number | string | null;
  billing_contact_name: string | null;
  billing_contact_email: string | null;
  openrouter_api_key: string | null;
  is_active: boolean;
}>;

export type UserMapping = {
  user_id: string;
  client_org_id: string;
  openrouter_user_id: string | null;
  user_email: string | null;
  user_name: string | null;
  is_active: boolean;
  monthly_limit_usd: number | null;
  source: 'learned' | 'manual';
  created_at: string;
  updated_at: string;
};

export type UserMappingInput = {
  user_id: string;
  client_org_id: string;
  user_email?: string;
  user_name?: string;
  monthly_limit_usd?: number | string | null;
};

export type InstanceSettings = {
  billing_currency: string;
  billing_timezone: string;
  instance_id: string;
  openrouter_usage_sync_interval: number;
  openrouter_usage_sync_days_back: number;
  updated_at: string | null;
  default_markup_rate?: number | string;
};

export type ExportFormat = 'csv' | 'json';
