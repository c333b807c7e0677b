import { html, LitElement, nothing } from 'lit';
import { define } from '../../lib/define.js';
import { formatRate } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import type { NbpRate } from '../../lib/pln.js';
import { controls } from '../../lib/theme.styles.js';
import { rateNoteStyles } from './rate-note.styles.js';

/** Which NBP rate the PLN figures use, or a notice that there are none right now. */
export class MaiRateNote extends LitElement {
  static override styles = [controls, rateNoteStyles];

  static override properties = {
    rate: { attribute: false },
    lang: { type: String },
  };

  declare rate: NbpRate | null;
  declare lang: Lang;

  constructor() {
    super();
    this.rate = null;
    this.lang = 'en';
  }

  override render() {
    const rate = this.rate;
    if (!rate) {
      return html`<span class="unavailable" role="status" data-testid="pln-unavailable"
        >${t(this.lang, 'plnUnavailable')}</span
      >`;
    }
    return html`<span data-testid="nbp-rate"
      >${t(this.lang, 'nbpRate')}: 1 USD = ${formatRate(rate.rate)}
      PLN${rate.table ? ` (${rate.table})` : ''}${rate.date ? `, ${t(this.lang, 'rateAsOf')} ${rate.date}` : ''}${
        rate.stale ? html` <span class="stale" data-testid="rate-stale">(${t(this.lang, 'rateStale')})</span>` : nothing
      }</span
    >`;
  }
}

define('mai-rate-note', MaiRateNote);

declare global {
  interface HTMLElementTagNameMap {
    'mai-rate-note': MaiRateNote;
  }
}
