import { html, LitElement, nothing } from 'lit';
import type { ExportFormat } from '../../api/types.js';
import { define } from '../../lib/define.js';
import { t, type Lang } from '../../lib/i18n.js';
import { controls } from '../../lib/theme.styles.js';
import { exportFormStyles } from './export-form.styles.js';

export type ExportDetail = { from: string; to: string; format: ExportFormat };

/** Chooses a date range and format; the page downloads on `mai-export`. */
export class MaiExportForm extends LitElement {
  static override styles = [controls, exportFormStyles];

  static override properties = {
    from: { type: String },
    to: { type: String },
    format: { type: String },
    busy: { type: Boolean },
    error: { type: String },
    lang: { type: String },
  };

  declare from: string;
  declare to: string;
  declare format: ExportFormat;
  declare busy: boolean;
  declare error: string;
  declare lang: Lang;

  constructor() {
    super();
    this.from = '';
    this.to = '';
    this.format = 'csv';
    this.busy = false;
    this.error = '';
    this.lang = 'en';
  }

  private onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    this.from = String(data.get('from') ?? '');
    this.to = String(data.get('to') ?? '');
    this.format = data.get('format') === 'json' ? 'json' : 'csv';
    this.dispatchEvent(
      new CustomEvent<ExportDetail>('mai-export', {
        detail: { from: this.from, to: this.to, format: this.format },
        bubbles: true,
        composed: true,
      }),
    );
  }

  override render() {
    return html`<form @submit=${this.onSubmit} aria-label=${t(this.lang, 'export')}>
      <label>${t(this.lang, 'from')}<input type="date" name="from" required .value=${this.from} /></label>
      <label>${t(this.lang, 'to')}<input type="date" name="to" required .value=${this.to} /></label>
      <label
        >${t(this.lang, 'format')}
        <select name="format" .value=${this.format}>
          <option value="csv">CSV</option>
          <option value="json">JSON</option>
        </select>
      </label>
      <button class="primary" type="submit" ?disabled=${this.busy}>${t(this.lang, 'download')}</button>
      ${this.error ? html`<span class="error" role="alert">${this.error}</span>` : nothing}
    </form>`;
  }
}

define('mai-export-form', MaiExportForm);

declare global {
  interface HTMLElementTagNameMap {
    'mai-export-form': MaiExportForm;
  }
}
