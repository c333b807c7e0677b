import { html, LitElement, svg } from 'lit';
import type { DayTotals } from '../../api/types.js';
import { define } from '../../lib/define.js';
import { formatCount, formatUsdNano } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { controls } from '../../lib/theme.styles.js';
import { trendChartStyles } from './trend-chart.styles.js';

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 26, left: 64 };

/** A "nice" axis maximum in nano-USD: 1, 2 or 5 times a power of ten at or above the data. */
export function niceCeilNano(max: bigint): bigint {
  if (max <= 0n) return 10_000_000n; // one cent, so an empty month still has an axis
  let step = 1n;
  while (step * 10n <= max) step *= 10n;
  for (const factor of [1n, 2n, 5n, 10n]) if (step * factor >= max) return step * factor;
  return step * 10n;
}

/** The last 30 days' billed cost as an SVG bar chart, with the figures behind it on request. */
export class MaiTrendChart extends LitElement {
  static override styles = [controls, trendChartStyles];

  static override properties = {
    days: { attribute: false },
    lang: { type: String },
    today: { type: String },
  };

  declare days: DayTotals[];
  declare lang: Lang;
  declare today: string;

  constructor() {
    super();
    this.days = [];
    this.lang = 'en';
    this.today = '';
  }

  override render() {
    const days = this.days;
    const nanos = days.map((day) => BigInt(day.cost_nano_usd));
    const maxNano = nanos.reduce((a, b) => (b > a ? b : a), 0n);
    const top = niceCeilNano(maxNano);
    const innerW = WIDTH - PAD.left - PAD.right;
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    const slot = innerW / Math.max(days.length, 1);
    const barW = Math.max(slot * 0.7, 1);
    const y = (nano: bigint) => PAD.top + innerH - (Number(nano) / Number(top)) * innerH;
    const ticks = [0n, top / 2n, top];
    const total = nanos.reduce((a, b) => a + b, 0n);
    const maxIndex = nanos.findIndex((n) => n === maxNano);
    const summary = t(this.lang, 'trendSummary', {
      total: formatUsdNano(total),
      max: formatUsdNano(maxNano),
      day: days[maxIndex]?.date ?? '—',
    });
    return html`<figure>
      <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">${t(this.lang, 'trendTitle')}</title>
        <desc id="chart-desc">${summary}</desc>
        <g class="axis">
          ${ticks.map(
            (tick) => svg`<line class="grid" x1=${PAD.left} x2=${WIDTH - PAD.right} y1=${y(tick)} y2=${y(tick)}></line>
              <text x=${PAD.left - 6} y=${y(tick) + 4} text-anchor="end">${formatUsdNano(tick)}</text>`,
          )}
          ${days.map((day, i) =>
            i % 5 === 0 || i === days.length - 1
              ? svg`<text x=${PAD.left + slot * i + slot / 2} y=${HEIGHT - 8} text-anchor="middle">${day.date.slice(5)}</text>`
              : null,
          )}
        </g>
        <g>
          ${days.map((day, i) => {
            const nano = nanos[i] ?? 0n;
            const barTop = y(nano);
            const height = Math.max(PAD.top + innerH - barTop, nano > 0n ? 1 : 0);
            return svg`<rect class="bar ${day.date === this.today ? 'today' : ''}" data-date=${day.date}
              data-cost=${day.cost_nano_usd} x=${PAD.left + slot * i + (slot - barW) / 2} y=${PAD.top + innerH - height}
              width=${barW} height=${height}><title>${day.date}: ${formatUsdNano(day.cost_nano_usd)}, ${formatCount(day.tokens, this.lang)} ${t(this.lang, 'tokens').toLowerCase()}</title></rect>`;
          })}
        </g>
      </svg>
      <figcaption>${summary}</figcaption>
      <details>
        <summary>${t(this.lang, 'trendTitle')}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">${t(this.lang, 'date')}</th>
              <th scope="col">${t(this.lang, 'requestsCol')}</th>
              <th scope="col">${t(this.lang, 'tokens')}</th>
              <th scope="col">${t(this.lang, 'cost')}</th>
            </tr>
          </thead>
          <tbody>
            ${days.map(
              (day) =>
                html`<tr>
                  <td>${day.date}</td>
                  <td>${formatCount(day.requests, this.lang)}</td>
                  <td>${formatCount(day.tokens, this.lang)}</td>
                  <td>${formatUsdNano(day.cost_nano_usd)}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </details>
    </figure>`;
  }
}

define('mai-trend-chart', MaiTrendChart);

declare global {
  interface HTMLElementTagNameMap {
    'mai-trend-chart': MaiTrendChart;
  }
}
