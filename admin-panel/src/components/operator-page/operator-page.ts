import { Task } from '@lit/task';
import { html, LitElement, nothing } from 'lit';
import type { ApiConfig } from '../../api/client.js';
import { getReconciliation } from '../../api/reconciliation.js';
import type {
  BillingCsvDialect,
  BillingDay,
  BillingRow,
  BillingSummary,
  ReconciliationRow,
  StatementPln,
} from '../../api/types.js';
import { downloadBillingCsv, getBillingSummary } from '../../api/usage.js';
import { define } from '../../lib/define.js';
import { saveBlob } from '../../lib/download.js';
import {
  formatPercent,
  formatPln,
  formatRate,
  formatUsdNano,
  formatUsdNumber,
  formatUsdWithPln,
} from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { pageStyles } from '../../lib/page.styles.js';
import { plnAmountOf, plnOf, rateOf } from '../../lib/pln.js';
import { countColumns } from '../../lib/usage-views.js';
import { controls, themeTokens } from '../../lib/theme.styles.js';
import type { TableColumn } from '../data-table/data-table.js';
import '../data-table/data-table.js';
import '../rate-note/rate-note.js';
import '../usage-dashboard/usage-dashboard.js';
import { operatorPageStyles } from './operator-page.styles.js';

const TOKEN_KEY = 'mai-usage.operator-token';
const TOTAL_ROW = '__total__';

/** Drift of the month: OpenRouter's figure minus the ledger's raw cost, summed over each org's key_monthly row. */
export function monthlyDriftNano(rows: readonly ReconciliationRow[], month: string): bigint {
  return rows
    .filter((row) => row.kind === 'key_monthly' && row.period === month)
    .reduce((sum, row) => sum + BigInt(row.drift_nano_usd), 0n);
}

/**
 * The reseller's page on the sidecar itself (`/`): sign in with ADMIN_TOKEN (kept for this tab
 * only), a month picker, every organization's billing statement for that month (raw cost, markup,
 * billed, profit, PLN per day at NBP table A, CSV downloads), reconciliation drift against
 * OpenRouter, and any org's dashboard.
 */
export class MaiOperatorPage extends LitElement {
  static override styles = [themeTokens, controls, pageStyles, operatorPageStyles];

  static override properties = {
    apiBase: { type: String, attribute: 'api-base' },
    lang: { type: String },
    theme: { type: String, reflect: true },
    token: { state: true },
    month: { state: true },
    openOrg: { state: true },
    downloadError: { state: true },
  };

  declare apiBase: string;
  declare lang: Lang;
  declare theme: 'light' | 'dark';
  declare token: string;
  declare month: string;
  declare openOrg: string;
  declare downloadError: string;

  private readonly billingTask = new Task(this, {
    task: async ([config, month]) => (config.token ? getBillingSummary(config, month || undefined) : null),
    args: () => [this.config(), this.month] as const,
    argsEqual: (a, b) => a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1],
  });

  // Reconciliation rows from the shown month on; the page keeps that month's.
  private readonly reconciliationTask = new Task(this, {
    task: async ([config, month]) => (config.token && month ? getReconciliation(config, month) : null),
    args: () => [this.config(), this.shownMonth()] as const,
    argsEqual: (a, b) => a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1],
  });

  constructor() {
    super();
    this.apiBase = '';
    this.lang = 'en';
    this.theme = 'light';
    this.token = sessionStorage.getItem(TOKEN_KEY) ?? '';
    this.month = '';
    this.openOrg = '';
    this.downloadError = '';
  }

  private config(): ApiConfig {
    return { baseUrl: this.apiBase, token: this.token };
  }

  /** The picked month, else the one the sidecar answered for (its current billing month). */
  private shownMonth(): string {
    return this.month || (this.billingTask.value?.month ?? '');
  }

  private onSignIn(event: SubmitEvent) {
    event.preventDefault();
    const token = String(new FormData(event.target as HTMLFormElement).get('token') ?? '').trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    this.token = token;
  }

  private onSignOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = '';
    this.openOrg = '';
  }

  private onMonth(event: Event) {
    this.month = (event.target as HTMLInputElement).value;
  }

  private async onDownload(dialect: BillingCsvDialect) {
    this.downloadError = '';
    try {
      const { blob, filename } = await downloadBillingCsv(this.config(), this.shownMonth(), dialect);
      saveBlob(blob, filename);
    } catch (error) {
      this.downloadError = error instanceof Error ? error.message : String(error);
    }
  }

  private renderSignIn(error?: string) {
    return html`<form class="sign-in" @submit=${this.onSignIn}>
      <label
        >${t(this.lang, 'operatorToken')} <input name="token" type="password" autocomplete="current-password" required
      /></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : nothing}
      <div><button class="primary" type="submit">${t(this.lang, 'signIn')}</button></div>
    </form>`;
  }

  private columns(): TableColumn<BillingRow>[] {
    const lang = this.lang;
    const money = (nano: string | undefined) => formatUsdNano(nano ?? '0');
    return [
      {
        key: 'name',
        label: t(lang, 'organization'),
        value: (row) =>
          row.client_org_id === TOTAL_ROW
            ? t(lang, 'total')
            : html`<button type="button" @click=${() => (this.openOrg = row.client_org_id)}>${row.client_name}</button>
                ${row.is_active ? nothing : html`<span class="muted">(${t(lang, 'inactive')})</span>`}`,
        sortValue: (row) => row.client_name.toLowerCase(),
      },
      ...countColumns<BillingRow>(lang),
      {
        key: 'raw',
        label: t(lang, 'rawCost'),
        numeric: true,
        value: (row) => money(row.raw_cost_nano_usd),
        sortValue: (row) => BigInt(row.raw_cost_nano_usd ?? '0'),
      },
      {
        key: 'markup',
        label: t(lang, 'markup'),
        numeric: true,
        value: (row) => (row.markup_rate === undefined ? '' : `×${row.markup_rate}`),
        sortValue: (row) => row.markup_rate ?? 0,
      },
      {
        key: 'billed',
        label: t(lang, 'billed'),
        numeric: true,
        value: (row) => formatUsdWithPln(row.cost_nano_usd, plnOf(row)),
        sortValue: (row) => BigInt(row.cost_nano_usd),
      },
      {
        key: 'profit',
        label: t(lang, 'profit'),
        numeric: true,
        value: (row) => money(row.profit_nano_usd),
        sortValue: (row) => BigInt(row.profit_nano_usd ?? '0'),
      },
      {
        key: 'statement',
        label: t(lang, 'statementPln'),
        numeric: true,
        value: (row) => this.statementText(row.statement_pln),
        sortValue: (row) => BigInt(row.statement_pln?.cost_pln_grosz ?? '0'),
      },
      {
        key: 'limit',
        label: t(lang, 'limitUsed'),
        numeric: true,
        value: (row) =>
          row.monthly_limit_usd === null || row.monthly_limit_usd === undefined
            ? t(lang, 'noLimit')
            : `${formatPercent(row.limit_used_pct, lang)} / ${formatUsdNumber(row.monthly_limit_usd)}`,
        sortValue: (row) => row.limit_used_pct ?? -1,
      },
    ];
  }

  /** The statutory PLN total, or why it is incomplete. */
  private statementText(statement: StatementPln | undefined): string {
    if (!statement) return '';
    if (!statement.complete || statement.cost_pln_grosz === null) return t(this.lang, 'statementIncomplete');
    return formatPln(plnAmountOf(statement.cost_pln_grosz, statement.cost_pln));
  }

  private dayColumns(): TableColumn<BillingDay>[] {
    const lang = this.lang;
    return [
      { key: 'date', label: t(lang, 'date'), value: (day) => day.date, sortValue: (day) => day.date },
      ...countColumns<BillingDay>(lang),
      {
        key: 'raw',
        label: t(lang, 'rawCost'),
        numeric: true,
        value: (day) => formatUsdNano(day.raw_cost_nano_usd ?? '0'),
      },
      { key: 'billed', label: t(lang, 'billed'), numeric: true, value: (day) => formatUsdNano(day.cost_nano_usd) },
      {
        key: 'profit',
        label: t(lang, 'profit'),
        numeric: true,
        value: (day) => formatUsdNano(day.profit_nano_usd ?? '0'),
      },
      {
        key: 'pln',
        label: t(lang, 'billedPln'),
        numeric: true,
        value: (day) =>
          day.cost_pln_grosz === null ? t(lang, 'noRate') : formatPln(plnAmountOf(day.cost_pln_grosz, day.cost_pln)),
      },
      {
        key: 'rate',
        label: t(lang, 'nbpRateA'),
        value: (day) =>
          day.rate
            ? `${formatRate(day.rate.usd_pln)} (${day.rate.table_no}, ${day.rate.effective_date})`
            : (day.pln_unavailable_reason ?? ''),
      },
    ];
  }

  /** Each org's statement day by day: billed cost in PLN at that day's NBP table A rate. */
  private renderStatementDays(billing: BillingSummary) {
    const lang = this.lang;
    const withDays = billing.clients.filter((row) => (row.days?.length ?? 0) > 0);
    return html`<section aria-labelledby="days-heading">
      <h2 id="days-heading">${t(lang, 'statementByDay')}</h2>
      <p class="muted">${billing.clients[0]?.statement_pln?.rule ?? billing.totals.statement_pln?.rule ?? ''}</p>
      ${
        withDays.length === 0
          ? html`<p class="muted">${t(lang, 'noData')}</p>`
          : withDays.map(
              (row) =>
                html`<details data-testid="statement-days" data-org=${row.client_org_id}>
                  <summary>
                    ${row.client_name} · ${formatUsdNano(row.cost_nano_usd)} · ${this.statementText(row.statement_pln)}
                  </summary>
                  <mai-data-table
                    caption="${row.client_name}: ${billing.month}"
                    .columns=${this.dayColumns()}
                    .rows=${row.days ?? []}
                    sort-key="date"
                    sort-direction="ascending"
                  ></mai-data-table>
                </details>`,
            )
      }
    </section>`;
  }

  private renderReconciliation(billing: BillingSummary) {
    const lang = this.lang;
    const month = billing.month;
    const names = new Map(billing.clients.map((row) => [row.client_org_id, row.client_name]));
    const result = this.reconciliationTask.value;
    const error = this.reconciliationTask.error;
    // The month's whole-key figure first, then days, then per-model activity.
    const order = (kind: string) => ['key_monthly', 'key_daily', 'activity'].indexOf(kind) >>> 0;
    const rows = (result?.rows ?? [])
      .filter((row) => row.period.startsWith(month))
      .sort((a, b) => order(a.kind) - order(b.kind) || a.period.localeCompare(b.period));
    const columns: TableColumn<ReconciliationRow>[] = [
      {
        key: 'org',
        label: t(lang, 'organization'),
        value: (row) => names.get(row.client_org_id) ?? row.client_org_id,
        sortValue: (row) => (names.get(row.client_org_id) ?? row.client_org_id).toLowerCase(),
      },
      { key: 'kind', label: t(lang, 'kind'), value: (row) => row.kind, sortValue: (row) => row.kind },
      { key: 'period', label: t(lang, 'period'), value: (row) => row.period, sortValue: (row) => row.period },
      { key: 'model', label: t(lang, 'model'), value: (row) => row.model ?? '' },
      {
        key: 'openrouter',
        label: 'OpenRouter',
        numeric: true,
        value: (row) => formatUsdNumber(row.openrouter_usd),
        sortValue: (row) => row.openrouter_usd,
      },
      {
        key: 'ledger',
        label: t(lang, 'ledger'),
        numeric: true,
        value: (row) => formatUsdNumber(row.ledger_usd),
        sortValue: (row) => row.ledger_usd,
      },
      {
        key: 'drift',
        label: t(lang, 'drift'),
        numeric: true,
        value: (row) => formatUsdNano(row.drift_nano_usd),
        sortValue: (row) => BigInt(row.drift_nano_usd),
      },
    ];
    return html`<section aria-labelledby="drift-heading">
      <h2 id="drift-heading">${t(lang, 'reconciliation')}</h2>
      ${
        error
          ? html`<p class="error" role="alert">${error instanceof Error ? error.message : String(error)}</p>`
          : !result
            ? html`<p class="muted">${t(lang, 'loading')}</p>`
            : html`<p data-testid="monthly-drift">
                  ${t(lang, 'monthlyDrift', { month })}:
                  <strong>${formatUsdNano(monthlyDriftNano(result.rows, month))}</strong>
                </p>
                <mai-data-table
                  data-testid="reconciliation"
                  .columns=${columns}
                  .rows=${rows}
                  empty-text=${t(lang, 'noReconciliation')}
                ></mai-data-table>`
      }
    </section>`;
  }

  override render() {
    const lang = this.lang;
    const header = html`<header>
      <h1>mai-usage · ${t(lang, 'allOrganizations')}</h1>
      ${
        this.token
          ? html`<div class="toolbar">
              <label
                >${t(lang, 'month')}
                <input
                  type="month"
                  .value=${this.month || (this.billingTask.value?.month ?? '')}
                  @change=${this.onMonth}
              /></label>
              <button type="button" @click=${this.onSignOut}>${t(lang, 'signOut')}</button>
            </div>`
          : nothing
      }
    </header>`;
    if (!this.token) return html`${header}${this.renderSignIn()}`;
    if (this.openOrg) {
      return html`${header}
        <p><button type="button" @click=${() => (this.openOrg = '')}>← ${t(lang, 'back')}</button></p>
        <mai-usage-dashboard
          api-base=${this.apiBase}
          token=${this.token}
          lang=${lang}
          theme=${this.theme}
          client-id=${this.openOrg}
        ></mai-usage-dashboard>`;
    }
    const error = this.billingTask.error;
    if (error && !this.billingTask.value) {
      const message = error instanceof Error ? error.message : String(error);
      return html`${header}${this.renderSignIn(message)}`;
    }
    const billing = this.billingTask.value;
    if (!billing)
      return html`${header}
        <p class="muted">${t(lang, 'loading')}</p>`;
    const footer = {
      ...billing.totals,
      client_org_id: TOTAL_ROW,
      client_name: '',
      is_active: true,
      monthly_limit_usd: null,
      limit_used_pct: null,
    };
    return html`${header}
      <mai-data-table
        data-testid="billing"
        caption="${t(lang, 'month')}: ${billing.month} (${billing.period.from} – ${billing.period.to})"
        .columns=${this.columns()}
        .rows=${billing.clients}
        .footer=${footer}
        empty-text=${t(lang, 'noData')}
      ></mai-data-table>
      <div class="toolbar downloads">
        <button type="button" data-testid="csv" @click=${() => this.onDownload('rfc4180')}>
          ${t(lang, 'downloadCsv')}
        </button>
        <button type="button" data-testid="csv-pl" @click=${() => this.onDownload('pl')}>
          ${t(lang, 'downloadCsvPl')}
        </button>
        ${this.downloadError ? html`<span class="error" role="alert">${this.downloadError}</span>` : nothing}
      </div>
      <mai-rate-note class="totals" lang=${lang} .rate=${rateOf(billing, billing.totals)}></mai-rate-note>
      ${this.renderStatementDays(billing)} ${this.renderReconciliation(billing)}`;
  }
}

define('mai-operator-page', MaiOperatorPage);

declare global {
  interface HTMLElementTagNameMap {
    'mai-operator-page': MaiOperatorPage;
  }
}
