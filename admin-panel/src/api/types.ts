/** Response shapes of the sidecar API (docs/api.md). PLN fields are optional: no rate, no PLN. */

/** The display rate of a response (NBP table C ask), described once; `pln_available: false` without one. */
export type ExchangeRateInfo = {
  pln_available?: boolean;
  usd_pln?: number | null;
  /** Older field name, kept for sidecars before the NBP feature settled. */
  rate?: number;
  effective_date?: string | null;
  table_no?: string | null;
  source?: string | null;
  /** NBP could not be asked just now; this is the last rate stored. */
  stale?: boolean;
  /** Why there is no PLN ("PLN conversion temporarily unavailable"). */
  message?: string;
};

/** PLN beside a billed cost, at the rate it names (null fields: no rate, USD only). */
export type PlnFields = {
  cost_pln?: number | null;
  /** Exact integer grosz as text (1 PLN = 100 gr); preferred over `cost_pln` for display. */
  cost_pln_grosz?: string | null;
  exchange_rate?: number | null;
  exchange_rate_date?: string | null;
  exchange_rate_source?: string | null;
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
  daily_average_cost_pln_grosz?: string | null;
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
    exchange_rate_info?: ExchangeRateInfo;
  };
};

/** The caller's own share of their org (`GET usage/my-organization`'s `stats.me`). */
export type MyTotals = {
  user_id: string;
  today: DayTotals & { last_updated: string | null };
  this_month: Totals & {
    month: string;
    monthly_limit_usd: number | null;
    limit_used_pct: number | null;
    last_updated: string | null;
  };
};

export type MyOrganizationUsage = UsageSummary & { stats: UsageSummary['stats'] & { me?: MyTotals } };

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

/** A day's NBP table A mid rate, as printed on a billing statement line. */
export type StatutoryRate = { usd_pln: number; table_no: string; effective_date: string; source: string };

/** The statement total in PLN: the exact sum of its day lines, or null with the days lacking a rate. */
export type StatementPln = {
  cost_pln: number | null;
  cost_pln_grosz: string | null;
  source: string;
  rule: string;
  complete: boolean;
  days_without_rate: string[];
};

/** One day of an org's billing statement: billed cost in PLN at that day's table A rate. */
export type BillingDay = Omit<Totals, keyof PlnFields> & {
  date: string;
  cost_pln: number | null;
  cost_pln_grosz: string | null;
  rate: StatutoryRate | null;
  pln_unavailable_reason: string | null;
};

export type BillingRow = Totals & {
  client_org_id: string;
  client_name: string;
  is_active: boolean;
  markup_rate?: number;
  monthly_limit_usd: number | null;
  limit_used_pct: number | null;
  statement_pln?: StatementPln;
  days?: BillingDay[];
};

export type BillingSummary = PlnFields & {
  success: boolean;
  month: string;
  period: Period;
  currency: string;
  clients: BillingRow[];
  totals: Totals & { statement_pln?: StatementPln };
};

export type BillingCsvDialect = 'rfc4180' | 'pl';

/** What reconciliation found: OpenRouter's figures against the ledger's (`GET usage-tracking/reconciliation`). */
export type ReconciliationRow = {
  client_org_id: string;
  kind: 'key_daily' | 'key_monthly' | 'activity' | string;
  period: string;
  model: string | null;
  openrouter_usd: number;
  ledger_usd: number;
  drift_usd: number;
  drift_nano_usd: string;
  openrouter_requests: number | null;
  ledger_requests: number | null;
  checked_at: string;
};

export type Reconciliation = {
  success: boolean;
  rows: ReconciliationRow[];
  monthly_drift_usd: number;
  monthly_drift_nano_usd: string;
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
  /** The operator lets Open WebUI admins set markup on their orgs. */
  admin_may_set_markup?: boolean;
  default_markup_rate?: number | string;
};

export type ExportFormat = 'csv' | 'json';
