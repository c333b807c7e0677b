import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { define } from '../../lib/define.js';
import { controls } from '../../lib/theme.styles.js';
import { dataTableStyles } from './data-table.styles.js';

export type SortDirection = 'ascending' | 'descending';

/** A column; `value` renders a cell, `sortValue` orders rows (methods, so any row type fits). */
export type TableColumn<Row> = {
  key: string;
  label: string;
  numeric?: boolean;
  value(row: Row): string | TemplateResult;
  sortValue?(row: Row): number | string | bigint;
};

export type SortDetail = { key: string; direction: SortDirection };

/** A sortable table: header buttons sort by a column; `mai-sort` tells the page. */
export class MaiDataTable extends LitElement {
  static override styles = [controls, dataTableStyles];

  static override properties = {
    caption: { type: String },
    columns: { attribute: false },
    rows: { attribute: false },
    footer: { attribute: false },
    emptyText: { type: String, attribute: 'empty-text' },
    sortKey: { type: String, attribute: 'sort-key' },
    sortDirection: { type: String, attribute: 'sort-direction' },
  };

  declare caption: string;
  declare columns: TableColumn<object>[];
  declare rows: readonly object[];
  /** Optional totals row, rendered with the same columns. */
  declare footer: object | null;
  declare emptyText: string;
  declare sortKey: string;
  declare sortDirection: SortDirection;

  constructor() {
    super();
    this.caption = '';
    this.columns = [];
    this.rows = [];
    this.footer = null;
    this.emptyText = '';
    this.sortKey = '';
    this.sortDirection = 'descending';
  }

  /** The rows in display order. */
  sortedRows(): object[] {
    const column = this.columns.find((c) => c.key === this.sortKey);
    if (!column?.sortValue) return [...this.rows];
    const sign = this.sortDirection === 'ascending' ? 1 : -1;
    const sortValue = column.sortValue.bind(column);
    return [...this.rows].sort((a, b) => {
      const x = sortValue(a);
      const y = sortValue(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sign;
    });
  }

  private onSort(column: TableColumn<object>) {
    const direction: SortDirection =
      this.sortKey === column.key
        ? this.sortDirection === 'descending'
          ? 'ascending'
          : 'descending'
        : column.numeric
          ? 'descending'
          : 'ascending';
    this.sortKey = column.key;
    this.sortDirection = direction;
    this.dispatchEvent(
      new CustomEvent<SortDetail>('mai-sort', {
        detail: { key: column.key, direction },
        bubbles: true,
        composed: true,
      }),
    );
  }

  private header(column: TableColumn<object>) {
    const sorted = this.sortKey === column.key;
    const cls = column.numeric ? 'num' : '';
    if (!column.sortValue) return html`<th scope="col" class=${cls}>${column.label}</th>`;
    return html`<th scope="col" class=${cls} aria-sort=${sorted ? this.sortDirection : 'none'}>
      <button type="button" @click=${() => this.onSort(column)}>
        ${column.label}<span class="arrow" aria-hidden="true"
          >${sorted ? (this.sortDirection === 'ascending' ? '▲' : '▼') : ''}</span
        >
      </button>
    </th>`;
  }

  override render() {
    const rows = this.sortedRows();
    return html`<div class="scroll">
      <table>
        ${
          this.caption
            ? html`<caption>
                ${this.caption}
              </caption>`
            : nothing
        }
        <thead>
          <tr>
            ${this.columns.map((column) => this.header(column))}
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td class="empty" colspan=${this.columns.length}>${this.emptyText}</td>
                </tr>`
              : rows.map(
                  (row) =>
                    html`<tr>
                      ${this.columns.map((c) => html`<td class=${c.numeric ? 'num' : ''}>${c.value(row)}</td>`)}
                    </tr>`,
                )
          }
        </tbody>
        ${
          this.footer && rows.length > 0
            ? html`<tfoot>
                <tr>
                  ${this.columns.map((c) => html`<td class=${c.numeric ? 'num' : ''}>${c.value(this.footer!)}</td>`)}
                </tr>
              </tfoot>`
            : nothing
        }
      </table>
    </div>`;
  }
}

define('mai-data-table', MaiDataTable);

declare global {
  interface HTMLElementTagNameMap {
    'mai-data-table': MaiDataTable;
  }
}
