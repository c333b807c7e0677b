import { html, type TemplateResult } from 'lit';
import type { Totals } from '../api/types.js';
import type { TableColumn } from '../components/data-table/data-table.js';
import '../components/stat-card/stat-card.js';
import { formatCount, formatUsdWithPln } from './format.js';
import { requestsLabel, t, type Lang } from './i18n.js';
import { plnOf } from './pln.js';

/** The two live "Today" cards, tokens and billed cost, as the dashboard and My usage show them. */
export function todayCards(today: Totals, lang: Lang): TemplateResult {
  return html`<mai-stat-card
      live
      live-label=${t(lang, 'live')}
      data-card="today-tokens"
      label=${t(lang, 'todayTokens')}
      value=${formatCount(today.tokens, lang)}
      detail=${requestsLabel(lang, today.requests, formatCount(today.requests, lang))}
    ></mai-stat-card>
    <mai-stat-card
      live
      live-label=${t(lang, 'live')}
      data-card="today-cost"
      label=${t(lang, 'todayCost')}
      value=${formatUsdWithPln(today.cost_nano_usd, plnOf(today))}
      detail=${t(lang, 'withMarkup')}
    ></mai-stat-card>`;
}

/** Requests and tokens columns, sortable, for any table of usage totals. */
export function countColumns<Row extends Pick<Totals, 'requests' | 'tokens'>>(lang: Lang): TableColumn<Row>[] {
  return [
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
  ];
}

/** "1,751 tokens · 2 requests", the detail line under a cost. */
export function tokensAndRequests(totals: Pick<Totals, 'requests' | 'tokens'>, lang: Lang): string {
  return `${formatCount(totals.tokens, lang)} ${t(lang, 'tokens').toLowerCase()} · ${requestsLabel(lang, totals.requests, formatCount(totals.requests, lang))}`;
}
