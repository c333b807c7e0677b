import { css } from 'lit';

export const dataTableStyles = css`
  :host {
    display: block;
  }
  .scroll {
    overflow-x: auto;
  }
  table {
    width: 100%;
    border-collapse: collapse;
    font-size: 0.875rem;
    font-variant-numeric: tabular-nums;
  }
  caption {
    text-align: left;
    font-weight: 600;
    padding-bottom: 0.4rem;
  }
  th,
  td {
    padding: 0.45rem 0.6rem;
    border-bottom: 1px solid var(--mai-border);
    text-align: left;
    vertical-align: top;
  }
  th {
    font-weight: 600;
    color: var(--mai-muted);
    white-space: nowrap;
  }
  .num {
    text-align: right;
  }
  th button {
    all: unset;
    cursor: pointer;
    display: inline-flex;
    gap: 0.25rem;
    align-items: center;
    border-radius: 0.25rem;
  }
  th button:focus-visible {
    box-shadow: var(--mai-focus);
  }
  .arrow {
    font-size: 0.7rem;
    width: 0.7rem;
  }
  tfoot td {
    font-weight: 600;
    border-bottom: none;
  }
  .empty {
    color: var(--mai-muted);
    padding: 1rem 0.6rem;
  }
`;
