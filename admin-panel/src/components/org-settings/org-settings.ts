import { Task } from '@lit/task';
import { html, LitElement, nothing } from 'lit';
import { listClients, updateClient } from '../../api/clients.js';
import type { ApiConfig } from '../../api/client.js';
import type { Organization, OrganizationChanges, UserMapping } from '../../api/types.js';
import { deleteUserMapping, listUserMappings, saveUserMapping } from '../../api/user-mappings.js';
import { define } from '../../lib/define.js';
import { formatUsdNumber } from '../../lib/format.js';
import { t, type Lang } from '../../lib/i18n.js';
import { controls } from '../../lib/theme.styles.js';
import type { TableColumn } from '../data-table/data-table.js';
import '../data-table/data-table.js';
import { orgSettingsStyles } from './org-settings.styles.js';

const text = (data: FormData, name: string): string => String(data.get(name) ?? '').trim();

/**
 * Manages one organization: monthly limit, billing contact, the OpenRouter key (set or rotate,
 * only ever shown masked), markup when the caller may see it (the operator, or an Open WebUI
 * admin the operator allows: `admin_may_set_markup`), and user mappings with per-user limits. Fires `mai-org-changed` after a save so the dashboard re-reads its figures.
 */
export class MaiOrgSettings extends LitElement {
  static override styles = [controls, orgSettingsStyles];

  static override properties = {
    apiBase: { type: String, attribute: 'api-base' },
    token: { type: String },
    orgId: { type: String, attribute: 'org-id' },
    lang: { type: String },
    message: { state: true },
    error: { state: true },
    version: { state: true },
  };

  declare apiBase: string;
  declare token: string;
  declare orgId: string;
  declare lang: Lang;
  declare message: string;
  declare error: string;
  /** Bumped after each save to reload. */
  declare version: number;

  private readonly orgTask = new Task(this, {
    task: async ([config, orgId]) => {
      const [orgs, mappings] = await Promise.all([listClients(config), listUserMappings(config, orgId)]);
      const org = orgs.find((o) => o.id === orgId);
      if (!org) throw new Error(`organization ${orgId} not found`);
      return { org, mappings };
    },
    args: () => [this.config(), this.orgId, this.version] as const,
    argsEqual: (a, b) => a[0].baseUrl === b[0].baseUrl && a[0].token === b[0].token && a[1] === b[1] && a[2] === b[2],
  });

  constructor() {
    super();
    this.apiBase = '';
    this.token = '';
    this.orgId = '';
    this.lang = 'en';
    this.message = '';
    this.error = '';
    this.version = 0;
  }

  private config(): ApiConfig {
    return { baseUrl: this.apiBase, token: this.token };
  }

  private async run(action: () => Promise<unknown>, form?: HTMLFormElement) {
    this.message = '';
    this.error = '';
    try {
      await action();
      this.message = t(this.lang, 'saved');
      form?.reset();
      this.version += 1;
      this.dispatchEvent(new CustomEvent('mai-org-changed', { bubbles: true, composed: true }));
    } catch (error) {
      this.error = error instanceof Error ? error.message : String(error);
    }
  }

  private onSaveOrg(event: SubmitEvent, org: Organization) {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const limit = text(data, 'monthly_limit_usd');
    const changes: OrganizationChanges = {
      monthly_limit_usd: limit === '' ? null : limit,
      billing_contact_name: text(data, 'billing_contact_name') || null,
      billing_contact_email: text(data, 'billing_contact_email') || null,
    };
    // Markup only when changed: an admin may set it only while the operator allows it.
    const markup = text(data, 'markup_rate');
    if (org.markup_rate !== undefined && data.has('markup_rate') && markup !== String(org.markup_rate)) {
      changes.markup_rate = markup;
    }
    void this.run(() => updateClient(this.config(), org.id, changes));
  }

  private onSaveKey(event: SubmitEvent, org: Organization) {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const key = text(new FormData(form), 'openrouter_api_key');
    if (!key) return;
    void this.run(() => updateClient(this.config(), org.id, { openrouter_api_key: key }), form);
  }

  private onSaveMapping(event: SubmitEvent) {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const limit = text(data, 'monthly_limit_usd');
    void this.run(
      () =>
        saveUserMapping(this.config(), {
          user_id: text(data, 'user_id'),
          client_org_id: this.orgId,
          ...(text(data, 'user_email') ? { user_email: text(data, 'user_email') } : {}),
          ...(text(data, 'user_name') ? { user_name: text(data, 'user_name') } : {}),
          monthly_limit_usd: limit === '' ? null : limit,
        }),
      form,
    );
  }

  private onEditMapping(mapping: UserMapping) {
    const form = this.renderRoot.querySelector<HTMLFormElement>('form[data-form="mapping"]');
    if (!form) return;
    const set = (name: string, value: string) => {
      const input = form.elements.namedItem(name);
      if (input instanceof HTMLInputElement) input.value = value;
    };
    set('user_id', mapping.user_id);
    set('user_email', mapping.user_email ?? '');
    set('user_name', mapping.user_name ?? '');
    set('monthly_limit_usd', mapping.monthly_limit_usd === null ? '' : String(mapping.monthly_limit_usd));
    form.querySelector<HTMLInputElement>('input[name="monthly_limit_usd"]')?.focus();
  }

  private onRemoveMapping(mapping: UserMapping) {
    void this.run(() => deleteUserMapping(this.config(), mapping.user_id));
  }

  private renderOrgForm(org: Organization) {
    const lang = this.lang;
    return html`<section aria-labelledby="org-heading">
      <h3 id="org-heading">${org.name}</h3>
      <form data-form="org" @submit=${(e: SubmitEvent) => this.onSaveOrg(e, org)}>
        <label
          >${t(lang, 'monthlyLimit')}
          <input
            name="monthly_limit_usd"
            inputmode="decimal"
            placeholder=${t(lang, 'noLimit')}
            .value=${org.monthly_limit_usd === null ? '' : String(org.monthly_limit_usd)}
        /></label>
        <label
          >${t(lang, 'billingContactName')}
          <input name="billing_contact_name" autocomplete="name" .value=${org.billing_contact_name ?? ''}
        /></label>
        <label
          >${t(lang, 'billingContactEmail')}
          <input
            name="billing_contact_email"
            type="email"
            autocomplete="email"
            .value=${org.billing_contact_email ?? ''}
        /></label>
        ${
          org.markup_rate !== undefined
            ? html`<label
                >${t(lang, 'markup')} <input name="markup_rate" inputmode="decimal" .value=${String(org.markup_rate)}
              /></label>`
            : html`<p class="muted">${t(lang, 'markup')}: ${t(lang, 'markupOperatorOnly')}</p>`
        }
        <div><button class="primary" type="submit">${t(lang, 'save')}</button></div>
      </form>
    </section>`;
  }

  private renderKeyForm(org: Organization) {
    const lang = this.lang;
    return html`<section aria-labelledby="key-heading">
      <h3 id="key-heading">${t(lang, 'openRouterKey')}</h3>
      <p class="row">
        <code data-testid="key-label"
          >${org.has_openrouter_key ? (org.openrouter_key_label ?? '••••') : t(lang, 'keyNotSet')}</code
        >
      </p>
      <form data-form="key" @submit=${(e: SubmitEvent) => this.onSaveKey(e, org)}>
        <label
          >${t(lang, 'newKey')}
          <input name="openrouter_api_key" type="password" autocomplete="off" placeholder="sk-or-v1-…" required
        /></label>
        <div>
          <button class="primary" type="submit">
            ${org.has_openrouter_key ? t(lang, 'rotateKey') : t(lang, 'setKey')}
          </button>
        </div>
      </form>
    </section>`;
  }

  private renderMappings(mappings: UserMapping[]) {
    const lang = this.lang;
    const columns: TableColumn<UserMapping>[] = [
      {
        key: 'user',
        label: t(lang, 'user'),
        value: (m) =>
          html`${m.user_name ?? m.user_id}${m.user_email ? html`<br /><span class="muted">${m.user_email}</span>` : nothing}`,
        sortValue: (m) => (m.user_name ?? m.user_id).toLowerCase(),
      },
      {
        key: 'limit',
        label: t(lang, 'userLimit'),
        numeric: true,
        value: (m) => (m.monthly_limit_usd === null ? t(lang, 'noLimit') : formatUsdNumber(m.monthly_limit_usd)),
        sortValue: (m) => m.monthly_limit_usd ?? Number.POSITIVE_INFINITY,
      },
      { key: 'source', label: t(lang, 'source'), value: (m) => m.source, sortValue: (m) => m.source },
      {
        key: 'actions',
        label: t(lang, 'actions'),
        value: (m) =>
          html`<span class="row"
            ><button type="button" @click=${() => this.onEditMapping(m)} aria-label="${t(lang, 'save')}: ${m.user_id}">
              ✎
            </button>
            <button
              type="button"
              @click=${() => this.onRemoveMapping(m)}
              aria-label="${t(lang, 'remove')}: ${m.user_id}"
            >
              ${t(lang, 'remove')}
            </button></span
          >`,
      },
    ];
    return html`<section aria-labelledby="mappings-heading">
      <h3 id="mappings-heading">${t(lang, 'userMappings')}</h3>
      <form data-form="mapping" @submit=${this.onSaveMapping}>
        <label>${t(lang, 'userId')}<input name="user_id" required autocomplete="off" /></label>
        <label>${t(lang, 'email')}<input name="user_email" type="email" autocomplete="off" /></label>
        <label>${t(lang, 'name')}<input name="user_name" autocomplete="off" /></label>
        <label
          >${t(lang, 'userLimit')}<input name="monthly_limit_usd" inputmode="decimal" placeholder=${t(lang, 'noLimit')}
        /></label>
        <div><button class="primary" type="submit">${t(lang, 'addUser')}</button></div>
      </form>
      <mai-data-table
        data-testid="mappings"
        .columns=${columns}
        .rows=${mappings}
        empty-text=${t(lang, 'noData')}
      ></mai-data-table>
    </section>`;
  }

  override render() {
    const value = this.orgTask.value;
    if (!value) {
      return this.orgTask.error
        ? html`<p class="error" role="alert">${String((this.orgTask.error as Error).message ?? this.orgTask.error)}</p>`
        : html`<p class="muted">${t(this.lang, 'loading')}</p>`;
    }
    return html`<div aria-live="polite">
        ${this.message ? html`<p class="status">${this.message}</p>` : nothing}
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      </div>
      ${this.renderOrgForm(value.org)} ${this.renderKeyForm(value.org)} ${this.renderMappings(value.mappings)}`;
  }
}

define('mai-org-settings', MaiOrgSettings);

declare global {
  interface HTMLElementTagNameMap {
    'mai-org-settings': MaiOrgSettings;
  }
}
