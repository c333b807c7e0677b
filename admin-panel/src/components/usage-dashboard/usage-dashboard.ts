import { Task, TaskStatus } from '@lit/task';
import { html, LitElement, nothing } from 'lit';
import { listClients } from '../../api/clients.js';
import { ApiError, type ApiConfig } from '../../api/client.js';
import type { ModelUsage, Totals, UsageSummary, UserUsage } from '../../api/types.js';
import { downloadUsageExport, getUsageByModel, getUsageByUser, getUsageSummary } from '../../api/usage.js';
import { define } from '../../lib/define.js';
import { saveBlob } from '../../lib/download.js';
import { formatCount, formatPercent, formatTime, formatUsdNano, formatUsdWithPln } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { pageStyles } from '../../lib/page.styles.js';
import { plnAmountOf, plnOf, rateOf } from '../../lib/pln.js';
import { countColumns, todayCards, tokensAndRequests } from '../../lib/usage-views.js';
import { RefreshController } from '../../lib/refresh-controller.js';
import { controls, themeTokens } from '../../lib/theme.styles.js';
import type { TableColumn } from '../data-table/data-table.js';
import type { ExportDetail } from '../export-form/export-form.js';
import '../data-table/data-table.js';
import '../export-form/export-form.js';
import '../limit-banner/limit-banner.js';
import '../org-settings/org-settings.js';
import '../rate-note/rate-note.js';
import '../stat-card/stat-card.js';
import '../tabs/tabs.js';
import '../trend-chart/trend-chart.js';
import { usageDashboardStyles } from './usage-dashboard.styles.js';

type TabId = 'trend' | 'stats' | 'users' | 'models' | 'export' | 'organization';

const TOTAL_ROW = '__total__';

/** `part` as a percentage of `whole`, exactly, to two decimals; null when whole is 0. */
export function pctOf(part: bigint, whole: bigint): number | null {
  if (whole === 0n) return null;
  return Number((part * 10_000n + whole / 2n) / whole) / 100;
}

/**
 * The client admin's Usage tab: live cards, the 30-day trend, stats, per-user and per-model
 * tables, CSV export and the organization's settings. Owns every fetch through tasks.
 */
export class MaiUsageDashboard extends LitElement {
  static override styles = [themeTokens, controls, pageStyles, usageDashboardStyles];

  static override properties = {
    apiBase: { type: String, attribute: 'api-base' },
    token: { type: String },
    lang: { type: String },
    theme: { type: String, reflect: true },
    clientId: { type: String, attribute: 'client-id' },
    refreshSeconds: { type: Number, attribute: 'refresh-seconds' },
    tab: { state: true },
    lastUpdated: { state: true },
    exportBusy: { state: true },
    exportError: { state: true },
  };

  declare apiBase: string;
  declare token: string;
  declare lang: Lang;
  declare theme: 'light' | 'dark';
  /** The org shown; empty = the admin's own org (required for the operator). */
  declare clientId: string;
  declare refreshSeconds: number;
  declare tab: TabId;
  declare lastUpdated: Date | null;
  declare exportBusy: boolean;
  declare exportError: string;

  private readonly refresher = new RefreshController(this, () => this.refreshSeconds);

  private readonly clientsTask = new Task(this, {
    task: async ([config]) => listClients(config),
    args: () => [this.config()] as const,
    argsEqual: ([a], [b]) => a.baseUrl === b.baseUrl && a.token === b.token,
  });

  private readonly summaryTask = new Task(this, {
    task: async ([config, clientId]) => {
      const summary = await getUsageSummary(config, clientId || undefined);
      this.lastUpdated = new Date();
      return summary;
    },
    args: () => [this.config(), this.clientId, this.refresher.tick] as const,
    argsEqual: (a, b) => a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1] && a[2] === b[2],
  });

  private readonly breakdownTask = new Task(this, {
    task: async ([config, orgId, tab]) => {
      if (!orgId) return null;
      if (tab === 'users') return { kind: 'users' as const, data: await getUsageByUser(config, orgId) };
      if (tab === 'models') return { kind: 'models' as const, data: await getUsageByModel(config, orgId) };
      return null;
    },
    args: () => [this.config(), this.summaryTask.value?.client_org_id ?? '', this.tab, this.refresher.tick] as const,
    argsEqual: (a, b) =>
      a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1] && a[2] === b[2] && a[3] === b[3],
  });

  constructor() {
    super();
    this.apiBase = '';
    this.token = '';
    this.lang = 'en';
    this.theme = 'light';
    this.clientId = '';
    this.refreshSeconds = 30;
    this.tab = 'trend';
    this.lastUpdated = null;
    this.exportBusy = false;
    this.exportError = '';
  }

  override updated(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('refreshSeconds')) this.refresher.restart();
  }

  private config(): ApiConfig {
    return { baseUrl: this.apiBase, token: this.token };
  }

  private onRefresh() {
    this.refresher.refresh();
  }

  private onOrgChange(event: Event) {
    this.clientId = (event.target as HTMLSelectElement).value;
  }

  private onTabChange(event: CustomEvent<{ id: string }>) {
    this.tab = event.detail.id as TabId;
  }

  private async onExport(event: CustomEvent<ExportDetail>) {
    const orgId = this.summaryTask.value?.client_org_id;
    this.exportBusy = true;
    this.exportError = '';
    try {
      const { blob, filename } = await downloadUsageExport(this.config(), { ...event.detail, clientId: orgId });
      saveBlob(blob, filename);
    } catch (error) {
      this.exportError = error instanceof Error ? error.message : String(error);
    } finally {
      this.exportBusy = false;
    }
  }

  private renderCards(summary: UsageSummary) {
    const { today, this_month: month } = summary.stats;
    const lang = this.lang;
    return html`<div class="cards">
      ${todayCards(today, lang)}
      <mai-stat-card
        data-card="month-total"
        label=${t(lang, 'monthTotal')}
        value=${formatUsdWithPln(month.cost_nano_usd, plnOf(month))}
        detail=${tokensAndRequests(month, lang)}
      ></mai-stat-card>
      <mai-stat-card
        data-card="daily-average"
        label=${t(lang, 'dailyAverage')}
        value=${formatUsdWithPln(
          month.daily_average_cost_nano_usd,
          plnAmountOf(month.daily_average_cost_pln_grosz, month.daily_average_cost_pln),
        )}
        detail="${t(lang, 'activeDays')}: ${month.days_active}/${month.days_elapsed}"
      ></mai-stat-card>
    </div>`;
  }

  private renderStats(summary: UsageSummary) {
    const { today, this_month: month } = summary.stats;
    const lang = this.lang;
    const monthNano = BigInt(month.cost_nano_usd);
    const perRequest = month.requests > 0 ? (monthNano + BigInt(month.requests) / 2n) / BigInt(month.requests) : 0n;
    const io = month.input_tokens + month.output_tokens;
    const rows: [string, string][] = [
      [t(lang, 'requestsMonth'), formatCount(month.requests, lang)],
      [t(lang, 'tokensMonth'), formatCount(month.tokens, lang)],
      [
        t(lang, 'inputOutput'),
        `${formatCount(month.input_tokens, lang)} / ${formatCount(month.output_tokens, lang)}` +
          (io > 0
            ? ` (${formatPercent(pctOf(BigInt(month.input_tokens), BigInt(io)), lang)} / ${formatPercent(pctOf(BigInt(month.output_tokens), BigInt(io)), lang)})`
            : ''),
      ],
      [
        t(lang, 'cachedReasoning'),
        `${formatCount(month.cached_tokens, lang)} / ${formatCount(month.reasoning_tokens, lang)}`,
      ],
      [t(lang, 'costPerRequest'), formatUsdNano(perRequest)],
      [
        t(lang, 'todayVsAverage'),
        formatPercent(pctOf(BigInt(today.cost_nano_usd), BigInt(month.daily_average_cost_nano_usd)), lang),
      ],
      [
        t(lang, 'limitUsed'),
        month.monthly_limit_usd === null
          ? t(lang, 'noLimit')
          : `${formatPercent(month.limit_used_pct, lang)} (${formatUsdNano(month.cost_nano_usd)} / ${formatUsdNano(
              month.monthly_limit_usd === null ? '0' : BigInt(Math.round(month.monthly_limit_usd * 1e9)),
            )})`,
      ],
      [t(lang, 'activeDays'), `${month.days_active} / ${month.days_elapsed}`],
      [t(lang, 'pendingCost'), formatCount(month.pending_cost_requests, lang)],
    ];
    return html`<dl class="stats" data-testid="usage-stats">
      ${rows.map(
        ([label, value]) =>
          html`<dt>${label}</dt>
            <dd>${value}</dd>`,
      )}
    </dl>`;
  }

  private costColumns<Row extends Totals>(): TableColumn<Row>[] {
    const lang = this.lang;
    return [
      ...countColumns<Row>(lang),
      {
        key: 'cost',
        label: t(lang, 'cost'),
        numeric: true,
        value: (row) => formatUsdWithPln(row.cost_nano_usd, plnOf(row)),
        sortValue: (row) => BigInt(row.cost_nano_usd),
      },
    ];
  }

  private renderBreakdown() {
    const lang = this.lang;
    const result = this.breakdownTask.value;
    if (!result) {
      return this.breakdownTask.error
        ? html`<p class="error-inline" role="alert">${this.errorText(this.breakdownTask.error)}</p>`
        : html`<p class="muted">${t(lang, 'loading')}</p>`;
    }
    const share = {
      key: 'share',
      label: t(lang, 'share'),
      numeric: true,
      value: (row: { cost_share_pct?: number }) =>
        row.cost_share_pct === undefined ? '100%' : formatPercent(row.cost_share_pct, lang),
      sortValue: (row: { cost_share_pct?: number }) => row.cost_share_pct ?? 100,
    };
    if (result.kind === 'users') {
      const columns: TableColumn<UserUsage>[] = [
        {
          key: 'user',
          label: t(lang, 'user'),
          value: (row) =>
            row.user_id === TOTAL_ROW
              ? t(lang, 'total')
              : html`${row.user_name ?? row.user_email ?? row.user_id}${
                  row.user_email && row.user_name ? html`<br /><span class="muted">${row.user_email}</span>` : nothing
                }`,
          sortValue: (row) => (row.user_name ?? row.user_email ?? row.user_id).toLowerCase(),
        },
        ...this.costColumns<UserUsage>(),
        share,
      ];
      const footer = { ...result.data.totals, user_id: TOTAL_ROW, user_email: null, user_name: null };
      return html`<mai-data-table
        data-testid="by-user"
        caption="${t(lang, 'byUser')} · ${result.data.period.from} – ${result.data.period.to}"
        .columns=${columns}
        .rows=${result.data.users}
        .footer=${footer}
        empty-text=${t(lang, 'noData')}
      ></mai-data-table>`;
    }
    const columns: TableColumn<ModelUsage>[] = [
      {
        key: 'model',
        label: t(lang, 'model'),
        value: (row) => (row.model === TOTAL_ROW ? t(lang, 'total') : row.model),
        sortValue: (row) => row.model.toLowerCase(),
      },
      {
        key: 'provider',
        label: t(lang, 'provider'),
        value: (row) => row.provider ?? '',
        sortValue: (row) => row.provider ?? '',
      },
      ...this.costColumns<ModelUsage>(),
      share,
    ];
    const footer = { ...result.data.totals, model: TOTAL_ROW, provider: null };
    return html`<mai-data-table
      data-testid="by-model"
      caption="${t(lang, 'byModel')} · ${result.data.period.from} – ${result.data.period.to}"
      .columns=${columns}
      .rows=${result.data.models}
      .footer=${footer}
      empty-text=${t(lang, 'noData')}
    ></mai-data-table>`;
  }

  private renderTab(summary: UsageSummary) {
    switch (this.tab) {
      case 'trend':
        return html`<mai-trend-chart
          .days=${summary.stats.daily_history}
          today=${summary.stats.today.date}
          lang=${this.lang}
        ></mai-trend-chart>`;
      case 'stats':
        return this.renderStats(summary);
      case 'users':
      case 'models':
        return this.renderBreakdown();
      case 'export':
        return html`<mai-export-form
          lang=${this.lang}
          from="${summary.stats.this_month.month}-01"
          to=${summary.stats.today.date}
          ?busy=${this.exportBusy}
          error=${this.exportError}
          @mai-export=${this.onExport}
        ></mai-export-form>`;
      case 'organization':
        return html`<mai-org-settings
          api-base=${this.apiBase}
          token=${this.token}
          lang=${this.lang}
          org-id=${summary.client_org_id}
          @mai-org-changed=${this.onRefresh}
        ></mai-org-settings>`;
    }
  }

  private errorText(error: unknown): string {
    if (error instanceof ApiError && error.status === 404) return t(this.lang, 'notInOrg');
    if (error instanceof ApiError && error.status !== 0 && error.status < 500) return error.message;
    return t(this.lang, 'serviceDown');
  }

  private renderOrgPicker(current: string) {
    const clients = this.clientsTask.value ?? [];
    if (clients.length < 2) return nothing;
    return html`<label class="org-picker"
      >${t(this.lang, 'organization')}
      <select @change=${this.onOrgChange} .value=${current}>
        ${clients.map((org) => html`<option value=${org.id} ?selected=${org.id === current}>${org.name}</option>`)}
      </select></label
    >`;
  }

  override render() {
    const lang = this.lang;
    const summary = this.summaryTask.value;
    const pending = this.summaryTask.status === TaskStatus.PENDING;
    const toolbar = html`<div class="toolbar">
      ${summary ? this.renderOrgPicker(summary.client_org_id) : nothing}
      <span class="muted" aria-live="polite" data-testid="last-updated"
        >${this.lastUpdated ? `${t(lang, 'lastUpdated')}: ${formatTime(this.lastUpdated, lang)}` : ''}</span
      >
      <button type="button" @click=${this.onRefresh} ?disabled=${pending} data-testid="refresh">
        ${t(lang, 'refresh')}
      </button>
    </div>`;
    if (!summary) {
      return html`<header>
          <h2>${t(lang, 'usage')}</h2>
          ${toolbar}
        </header>
        ${
          this.summaryTask.error
            ? html`<p class="notice" role="status" data-testid="error">${this.errorText(this.summaryTask.error)}</p>`
            : html`<p class="muted">${t(lang, 'loading')}</p>`
        }`;
    }
    const month = summary.stats.this_month;
    const tabs = [
      { id: 'trend', label: t(lang, 'dailyTrend') },
      { id: 'stats', label: t(lang, 'usageStats') },
      { id: 'users', label: t(lang, 'byUser') },
      { id: 'models', label: t(lang, 'byModel') },
      { id: 'export', label: t(lang, 'export') },
      { id: 'organization', label: t(lang, 'organization') },
    ];
    return html`<header>
        <h2>${t(lang, 'usage')} · <span data-testid="org-name">${summary.client_name}</span></h2>
        ${toolbar}
      </header>
      ${
        this.summaryTask.error
          ? html`<p class="notice" role="status">${this.errorText(this.summaryTask.error)}</p>`
          : nothing
      }
      <mai-limit-banner
        lang=${lang}
        .usedPct=${month.limit_used_pct}
        .limitUsd=${month.monthly_limit_usd}
      ></mai-limit-banner>
      ${this.renderCards(summary)}
      <mai-rate-note lang=${lang} .rate=${rateOf(summary.stats, summary.stats.today, month)}></mai-rate-note>
      <mai-tabs label=${t(lang, 'usage')} .tabs=${tabs} selected=${this.tab} @mai-tab-change=${this.onTabChange}>
        ${this.renderTab(summary)}
      </mai-tabs>`;
  }
}

define('mai-usage-dashboard', MaiUsageDashboard);

declare global {
  interface HTMLElementTagNameMap {
    'mai-usage-dashboard': MaiUsageDashboard;
  }
}
