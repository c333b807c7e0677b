import { css } from 'lit';

/** Layout shared by the pages (dashboard, my usage, operator). */
export const pageStyles = css`
  :host {
    display: block;
    background: var(--mai-bg);
    color: var(--mai-fg);
    line-height: 1.4;
    container-type: inline-size;
  }
  header {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem 1rem;
    align-items: center;
    justify-content: space-between;
    margin-bottom: 0.8rem;
  }
  h2 {
    margin: 0;
    font-size: 1.1rem;
  }
  .toolbar {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem;
    align-items: center;
    font-size: 0.85rem;
  }
  .cards {
    display: grid;
    grid-template-columns: repeat(4, minmax(0, 1fr));
    gap: 0.75rem;
    margin: 0.75rem 0 0.4rem;
  }
  @container (max-width: 760px) {
    .cards {
      grid-template-columns: repeat(2, minmax(0, 1fr));
    }
  }
  @container (max-width: 400px) {
    .cards {
      grid-template-columns: minmax(0, 1fr);
    }
  }
  .notice {
    border: 1px dashed var(--mai-border);
    border-radius: var(--mai-radius);
    padding: 0.8rem 1rem;
    color: var(--mai-muted);
    font-size: 0.9rem;
  }
  section + section {
    margin-top: 1rem;
  }
  dl.stats {
    display: grid;
    grid-template-columns: minmax(0, 1fr) auto;
    gap: 0.1rem 1rem;
    margin: 0;
    font-size: 0.9rem;
    font-variant-numeric: tabular-nums;
  }
  dl.stats dt {
    color: var(--mai-muted);
    padding: 0.35rem 0;
    border-bottom: 1px solid var(--mai-border);
  }
  dl.stats dd {
    margin: 0;
    padding: 0.35rem 0;
    text-align: right;
    border-bottom: 1px solid var(--mai-border);
  }
  .busy {
    opacity: 0.6;
  }
`;
