import { css } from 'lit';

export const operatorPageStyles = css`
  :host {
    max-width: 72rem;
    margin: 0 auto;
    padding: 1.25rem;
    min-height: 100vh;
  }
  h1 {
    font-size: 1.3rem;
    margin: 0;
  }
  form.sign-in {
    display: flex;
    flex-direction: column;
    gap: 0.6rem;
    max-width: 26rem;
    margin-top: 2rem;
  }
  label {
    display: flex;
    flex-direction: column;
    gap: 0.2rem;
    font-size: 0.85rem;
    color: var(--mai-muted);
  }
  .error {
    color: var(--mai-danger-fg);
    background: var(--mai-danger-bg);
    border-radius: 0.4rem;
    padding: 0.3rem 0.6rem;
  }
  .totals {
    margin-top: 0.8rem;
  }
  .downloads {
    margin-top: 0.6rem;
  }
  section {
    margin-top: 1.5rem;
  }
  details {
    margin: 0.4rem 0;
    border: 1px solid var(--mai-border);
    border-radius: var(--mai-radius);
    padding: 0.4rem 0.7rem;
  }
  summary {
    cursor: pointer;
    font-variant-numeric: tabular-nums;
  }
  details[open] summary {
    margin-bottom: 0.4rem;
  }
`;
