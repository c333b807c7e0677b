import { css } from 'lit';

export const orgSettingsStyles = css`
  :host {
    display: block;
  }
  h3 {
    font-size: 0.95rem;
    margin: 0 0 0.6rem;
  }
  form {
    display: grid;
    grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr));
    gap: 0.6rem 1rem;
    align-items: end;
  }
  label {
    display: flex;
    flex-direction: column;
    gap: 0.2rem;
    font-size: 0.8rem;
    color: var(--mai-muted);
  }
  .row {
    display: flex;
    gap: 0.5rem;
    align-items: center;
    flex-wrap: wrap;
  }
  code {
    font-size: 0.85rem;
  }
  .status {
    font-size: 0.85rem;
    color: var(--mai-ok);
  }
  .error {
    font-size: 0.85rem;
    color: var(--mai-danger-fg);
    background: var(--mai-danger-bg);
    border-radius: 0.4rem;
    padding: 0.2rem 0.5rem;
  }
  section {
    border: 1px solid var(--mai-border);
    border-radius: var(--mai-radius);
    padding: 0.9rem 1rem;
  }
  section + section {
    margin-top: 0.9rem;
  }
  mai-data-table {
    margin-top: 0.8rem;
  }
`;
