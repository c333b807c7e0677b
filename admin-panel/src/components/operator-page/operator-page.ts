import { Task } from '@lit/task';
import { html, LitElement, nothing } from 'lit';
import type { ApiConfig } from '../../api/client.js';
import type { BillingRow } from '../../api/types.js';
import { getBillingSummary } from '../../api/usage.js';
import { define } from '../../lib/define.js';
import { formatCount, formatPercent, formatUsdNano, formatUsdNumber, formatUsdWithPln } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { pageStyles } from '../../lib/page.styles.js';
import { plnOf, rateOf } from '../../lib/pln.js';
import { controls, themeTokens } from '../../lib/theme.styles.js';
import type { TableColumn } from '../data-table/data-table.js';
import '../data-table/data-table.js';
import '../rate-note/rate-note.js';
import '../usage-dashboard/usage-dashboard.js';
import { operatorPageStyles } from './operator-page.styles.js';

const TOKEN_KEY = 'mai-usage.operator-token';
const TOTAL_ROW = '__total__';

/**
 * The reseller's page on the sidecar itself (`/`): sign in with ADMIN_TOKEN (kept for this tab
 * only), every organization's month with raw cost, markup and profit, and any org's dashboard.
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
  };

  declare apiBase: string;
  declare lang: Lang;
  declare theme: 'light' | 'dark';
  declare token: string;
  declare month: string;
  declare openOrg: string;

  private readonly billingTask = new Task(this, {
    task: async ([config, month]) => (config.token ? getBillingSummary(config, month || undefined) : null),
    args: () => [this.config(), this.month] as const,
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
  }

  private config(): ApiConfig {
    return { baseUrl: this.apiBase, token: this.token };
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
      {
        key: 'requests',
        label: t(lang, 'requestsCol'),
        numeric: true,
        value: (row) => formatCount(row.requests, lang),
        sortValue: (row) => row.requests,
      },
      {
        key: 'tokens',
        label: t(lang, 'tokens'),
        numeric: true,
        value: (row) => formatCount(row.tokens, lang),
        sortValue: (row) => row.tokens,
      },
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
      <mai-rate-note class="totals" lang=${lang} .rate=${rateOf(billing, billing.totals)}></mai-rate-note>
      <p class="muted">${t(lang, 'reconciliationNote')}</p>`;
  }
}

define('mai-operator-page', MaiOperatorPage);

declare global {
  interface HTMLElementTagNameMap {
    'mai-operator-page': MaiOperatorPage;
  }
}
