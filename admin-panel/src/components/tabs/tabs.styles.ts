import { css } from 'lit';

export const tabsStyles = css`
  :host {
    display: block;
  }
  [role='tablist'] {
    display: flex;
    gap: 0.25rem;
    border-bottom: 1px solid var(--mai-border);
    overflow-x: auto;
    scrollbar-width: thin;
  }
  [role='tab'] {
    border: none;
    border-bottom: 2px solid transparent;
    border-radius: 0.4rem 0.4rem 0 0;
    background: none;
    padding: 0.5rem 0.8rem;
    color: var(--mai-muted);
    white-space: nowrap;
    font-weight: 500;
  }
  [role='tab'][aria-selected='true'] {
    color: var(--mai-fg);
    border-bottom-color: var(--mai-accent);
  }
  [role='tabpanel'] {
    padding-top: 0.9rem;
    border-radius: 0.25rem;
  }
`;
