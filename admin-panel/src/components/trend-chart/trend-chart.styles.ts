import { css } from 'lit';

export const trendChartStyles = css`
  :host {
    display: block;
  }
  figure {
    margin: 0;
  }
  svg {
    width: 100%;
    height: auto;
    display: block;
    overflow: visible;
  }
  .axis text {
    fill: var(--mai-muted);
    font-size: 11px;
  }
  .grid {
    stroke: var(--mai-border);
    stroke-width: 1;
  }
  .bar {
    fill: var(--mai-bar);
  }
  .bar.today {
    fill: var(--mai-bar-today);
  }
  .bar:hover {
    opacity: 0.8;
  }
  figcaption {
    font-size: 0.85rem;
    color: var(--mai-muted);
    margin-top: 0.4rem;
  }
  details {
    margin-top: 0.5rem;
    font-size: 0.85rem;
  }
  summary {
    cursor: pointer;
    color: var(--mai-accent);
  }
  table {
    border-collapse: collapse;
    margin-top: 0.4rem;
    font-variant-numeric: tabular-nums;
  }
  th,
  td {
    padding: 0.15rem 0.6rem;
    text-align: right;
    border-bottom: 1px solid var(--mai-border);
  }
  th:first-child,
  td:first-child {
    text-align: left;
  }
`;
