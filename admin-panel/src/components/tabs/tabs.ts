import { html, LitElement } from 'lit';
import { define } from '../../lib/define.js';
import { controls } from '../../lib/theme.styles.js';
import { tabsStyles } from './tabs.styles.js';

export type TabItem = { id: string; label: string };

/**
 * WAI-ARIA tabs with automatic activation: arrows, Home and End move between tabs. The page
 * slots the selected panel's content; the tabpanel lives here so aria-controls resolves.
 */
export class MaiTabs extends LitElement {
  static override styles = [controls, tabsStyles];

  static override properties = {
    tabs: { attribute: false },
    selected: { type: String, reflect: true },
    label: { type: String },
  };

  declare tabs: TabItem[];
  declare selected: string;
  declare label: string;

  constructor() {
    super();
    this.tabs = [];
    this.selected = '';
    this.label = '';
  }

  private select(id: string, focus: boolean) {
    if (id !== this.selected) {
      this.selected = id;
      this.dispatchEvent(
        new CustomEvent<{ id: string }>('mai-tab-change', { detail: { id }, bubbles: true, composed: true }),
      );
    }
    if (focus) {
      void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${id}`)?.focus());
    }
  }

  private onKeyDown(event: KeyboardEvent) {
    const index = this.tabs.findIndex((tab) => tab.id === this.selected);
    const last = this.tabs.length - 1;
    const target =
      event.key === 'ArrowRight'
        ? index === last
          ? 0
          : index + 1
        : event.key === 'ArrowLeft'
          ? index <= 0
            ? last
            : index - 1
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : -1;
    const tab = this.tabs[target];
    if (!tab) return;
    event.preventDefault();
    this.select(tab.id, true);
  }

  override render() {
    const current = this.tabs.some((tab) => tab.id === this.selected) ? this.selected : (this.tabs[0]?.id ?? '');
    return html`<div role="tablist" aria-label=${this.label} @keydown=${this.onKeyDown}>
        ${this.tabs.map(
          (tab) =>
            html`<button
              type="button"
              role="tab"
              id="tab-${tab.id}"
              aria-selected=${tab.id === current ? 'true' : 'false'}
              aria-controls="panel"
              tabindex=${tab.id === current ? 0 : -1}
              @click=${() => this.select(tab.id, false)}
            >
              ${tab.label}
            </button>`,
        )}
      </div>
      <div role="tabpanel" id="panel" aria-labelledby="tab-${current}" tabindex="0"><slot></slot></div>`;
  }
}

define('mai-tabs', MaiTabs);

declare global {
  interface HTMLElementTagNameMap {
    'mai-tabs': MaiTabs;
  }
}
