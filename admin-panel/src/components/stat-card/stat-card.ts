import { html, LitElement, nothing } from 'lit';
import { define } from '../../lib/define.js';
import { controls } from '../../lib/theme.styles.js';
import { statCardStyles } from './stat-card.styles.js';

/** One figure with a label and a detail line; `live` adds the pulsing "real time" dot. */
export class MaiStatCard extends LitElement {
  static override styles = [controls, statCardStyles];

  static override properties = {
    label: { type: String },
    value: { type: String },
    detail: { type: String },
    live: { type: Boolean, reflect: true },
    liveLabel: { type: String, attribute: 'live-label' },
  };

  declare label: string;
  declare value: string;
  declare detail: string;
  declare live: boolean;
  declare liveLabel: string;

  constructor() {
    super();
    this.label = '';
    this.value = '';
    this.detail = '';
    this.live = false;
    this.liveLabel = 'Live';
  }

  override render() {
    return html`<section class="card" aria-labelledby="label" part="card">
      <h3 id="label">
        ${
          this.live
            ? html`<span class="dot" aria-hidden="true"></span><span class="visually-hidden">${this.liveLabel}:</span>`
            : nothing
        }${this.label}
      </h3>
      <p class="value" data-testid="value">${this.value}</p>
      <p class="detail"><slot name="detail">${this.detail}</slot></p>
    </section>`;
  }
}

define('mai-stat-card', MaiStatCard);

declare global {
  interface HTMLElementTagNameMap {
    'mai-stat-card': MaiStatCard;
  }
}
