import { css } from 'lit';

export const usageDashboardStyles = css`
  .org-picker {
    display: flex;
    gap: 0.4rem;
    align-items: center;
  }
  mai-limit-banner {
    margin-bottom: 0.6rem;
  }
  mai-tabs {
    margin-top: 1rem;
  }
  .error-inline {
    color: var(--mai-danger-fg);
    font-size: 0.85rem;
  }
`;
