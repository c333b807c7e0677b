import { css } from 'lit';

export const exportFormStyles = css`
  :host {
    display: block;
  }
  form {
    display: flex;
    flex-wrap: wrap;
    gap: 0.6rem;
    align-items: flex-end;
  }
  label {
    display: flex;
    flex-direction: column;
    gap: 0.2rem;
    font-size: 0.8rem;
    color: var(--mai-muted);
  }
  .error {
    color: var(--mai-danger-fg);
    background: var(--mai-danger-bg);
    border-radius: 0.4rem;
    padding: 0.2rem 0.5rem;
    font-size: 0.85rem;
  }
`;
