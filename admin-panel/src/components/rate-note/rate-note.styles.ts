import { css } from 'lit';

export const rateNoteStyles = css`
  :host {
    display: block;
    font-size: 0.8rem;
    color: var(--mai-muted);
  }
  .unavailable {
    display: inline-block;
    background: var(--mai-warn-bg);
    color: var(--mai-warn-fg);
    border-radius: 0.4rem;
    padding: 0.15rem 0.5rem;
  }
`;
