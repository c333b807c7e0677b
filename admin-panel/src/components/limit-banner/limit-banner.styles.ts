import { css } from 'lit';

export const limitBannerStyles = css`
  :host {
    display: block;
  }
  :host([hidden]) {
    display: none;
  }
  .banner {
    border-radius: var(--mai-radius);
    padding: 0.7rem 0.9rem;
    font-size: 0.9rem;
    display: flex;
    gap: 0.5rem;
    align-items: flex-start;
  }
  .warning {
    background: var(--mai-warn-bg);
    color: var(--mai-warn-fg);
  }
  .reached {
    background: var(--mai-danger-bg);
    color: var(--mai-danger-fg);
  }
`;
