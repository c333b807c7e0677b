import { Task, TaskStatus } from '@lit/task';
import { html, LitElement, nothing } from 'lit';
import { ApiError, type ApiConfig } from '../../api/client.js';
import type { MyTotals } from '../../api/types.js';
import { getMyOrganizationUsage } from '../../api/usage.js';
import { define } from '../../lib/define.js';
import { formatCount, formatPercent, formatTime, formatUsdNumber, formatUsdWithPln } from '../../lib/format.js';
import { requestsLabel, t, type Lang } from '../../lib/i18n.js';
import { pageStyles } from '../../lib/page.styles.js';
import { plnOf, rateOf } from '../../lib/pln.js';
import { todayCards, tokensAndRequests } from '../../lib/usage-views.js';
import { RefreshController } from '../../lib/refresh-controller.js';
import { controls, themeTokens } from '../../lib/theme.styles.js';
import '../rate-note/rate-note.js';
import '../stat-card/stat-card.js';
import { myUsageStyles } from './my-usage.styles.js';

/** An employee's "My usage": their own and their organization's today and month, in USD and PLN. */
export class MaiMyUsage extends LitElement {
  static override styles = [themeTokens, controls, pageStyles, myUsageStyles];

  static override properties = {
    apiBase: { type: String, attribute: 'api-base' },
    token: { type: String },
    lang: { type: String },
    theme: { type: String, reflect: true },
    refreshSeconds: { type: Number, attribute: 'refresh-seconds' },
    lastUpdated: { state: true },
  };

  declare apiBase: string;
  declare token: string;
  declare lang: Lang;
  declare theme: 'light' | 'dark';
  declare refreshSeconds: number;
  declare lastUpdated: Date | null;

  private readonly refresher = new RefreshController(this, () => this.refreshSeconds);

  private readonly usageTask = new Task(this, {
    task: async ([config]) => {
      const summary = await getMyOrganizationUsage(config);
      this.lastUpdated = new Date();
      return summary;
    },
    args: () => [this.config(), this.refresher.tick] as const,
    argsEqual: (a, b) => a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1],
  });

  constructor() {
    super();
    this.apiBase = '';
    this.token = '';
    this.lang = 'en';
    this.theme = 'light';
    this.refreshSeconds = 30;
    this.lastUpdated = null;
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

  override render() {
    const lang = this.lang;
    const summary = this.usageTask.value;
    const error = this.usageTask.error;
    const header = html`<header>
      <h2>${t(lang, 'myUsage')}</h2>
      <div class="toolbar">
        <span class="muted" aria-live="polite" data-testid="last-updated"
          >${this.lastUpdated ? `${t(lang, 'lastUpdated')}: ${formatTime(this.lastUpdated, lang)}` : ''}</span
        >
        <button
          type="button"
          @click=${this.onRefresh}
          ?disabled=${this.usageTask.status === TaskStatus.PENDING}
          data-testid="refresh"
        >
          ${t(lang, 'refresh')}
        </button>
      </div>
    </header>`;
    if (!summary) {
      const text =
        error instanceof ApiError && error.status === 404
          ? t(lang, 'notInOrg')
          : error
            ? t(lang, 'serviceDown')
            : t(lang, 'loading');
      return html`${header}
        <p class=${error ? 'notice' : 'muted'} role="status" data-testid=${error ? 'error' : 'loading'}>${text}</p>`;
    }
    const { today, this_month: month, me } = summary.stats;
    return html`${header} ${error ? html`<p class="notice" role="status">${t(lang, 'serviceDown')}</p>` : nothing}
      ${me ? this.renderMine(me) : nothing}
      <section aria-labelledby="org-heading">
        <h3 id="org-heading">
          ${t(lang, 'yourOrganization')}: <strong data-testid="org-name">${summary.client_name}</strong>
        </h3>
        <div class="cards">
          ${todayCards(today, lang)}
          <mai-stat-card
            data-card="month-tokens"
            label=${t(lang, 'tokensMonth')}
            value=${formatCount(month.tokens, lang)}
            detail=${requestsLabel(lang, month.requests, formatCount(month.requests, lang))}
          ></mai-stat-card>
          <mai-stat-card
            data-card="month-total"
            label=${t(lang, 'monthTotal')}
            value=${formatUsdWithPln(month.cost_nano_usd, plnOf(month))}
            detail=${t(lang, 'withMarkup')}
          ></mai-stat-card>
        </div>
      </section>
      <mai-rate-note lang=${lang} .rate=${rateOf(summary.stats, today, month)}></mai-rate-note>`;
  }

  /** The caller's own today and month: part of the organization's figures below. */
  private renderMine(me: MyTotals) {
    const lang = this.lang;
    const usage = (totals: Pick<MyTotals['today'], 'tokens' | 'requests'>) => tokensAndRequests(totals, lang);
    const month = me.this_month;
    const limit =
      month.monthly_limit_usd === null
        ? ''
        : ` · ${t(lang, 'yourLimit', { pct: formatPercent(month.limit_used_pct, lang), limit: formatUsdNumber(month.monthly_limit_usd) })}`;
    return html`<section aria-labelledby="me-heading">
      <h3 id="me-heading">${t(lang, 'yourUsage')}</h3>
      <div class="cards">
        <mai-stat-card
          live
          live-label=${t(lang, 'live')}
          data-card="me-today"
          label=${t(lang, 'today')}
          value=${formatUsdWithPln(me.today.cost_nano_usd, plnOf(me.today))}
          detail=${usage(me.today)}
        ></mai-stat-card>
        <mai-stat-card
          data-card="me-month"
          label=${t(lang, 'thisMonth')}
          value=${formatUsdWithPln(month.cost_nano_usd, plnOf(month))}
          detail="${usage(month)}${limit}"
        ></mai-stat-card>
      </div>
    </section>`;
  }
}

define('mai-my-usage', MaiMyUsage);

declare global {
  interface HTMLElementTagNameMap {
    'mai-my-usage': MaiMyUsage;
  }
}
