import { html, LitElement, nothing } from 'lit';
import { define } from '../../lib/define.js';
import { formatPercent, formatUsdNumber } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { controls } from '../../lib/theme.styles.js';
import { limitBannerStyles } from './limit-banner.styles.js';

/** The alert shown at 80% and at 100% of a monthly limit; renders nothing below 80%. */
export class MaiLimitBanner extends LitElement {
  static override styles = [controls, limitBannerStyles];

  static override properties = {
    usedPct: { type: Number, attribute: 'used-pct' },
    limitUsd: { type: Number, attribute: 'limit-usd' },
    lang: { type: String },
  };

  declare usedPct: number | null;
  declare limitUsd: number | null;
  declare lang: Lang;

  constructor() {
    super();
    this.usedPct = null;
    this.limitUsd = null;
    this.lang = 'en';
  }

  /** "warning" from 80%, "reached" from 100%, else null. */
  get level(): 'warning' | 'reached' | null {
    if (this.usedPct === null || this.limitUsd === null) return null;
    return this.usedPct >= 100 ? 'reached' : this.usedPct >= 80 ? 'warning' : null;
  }

  override render() {
    const level = this.level;
    if (!level) return nothing;
    const limit = formatUsdNumber(this.limitUsd);
    const text =
      level === 'reached'
        ? t(this.lang, 'limitReached', { limit })
        : t(this.lang, 'limitWarning', { pct: formatPercent(this.usedPct, this.lang), limit });
    return html`<div class="banner ${level}" role="alert" data-level=${level}>
      <span aria-hidden="true">${level === 'reached' ? '⛔' : '⚠️'}</span><span>${text}</span>
    </div>`;
  }
}

define('mai-limit-banner', MaiLimitBanner);

declare global {
  interface HTMLElementTagNameMap {
    'mai-limit-banner': MaiLimitBanner;
  }
}
