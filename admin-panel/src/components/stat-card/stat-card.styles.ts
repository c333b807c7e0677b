import { css } from 'lit';

export const statCardStyles = css`
  :host {
    display: block;
  }
  .card {
    height: 100%;
    border: 1px solid var(--mai-border);
    border-radius: var(--mai-radius);
    background: var(--mai-surface);
    padding: 0.9rem 1rem;
  }
  h3 {
    margin: 0;
    font-size: 0.8rem;
    font-weight: 600;
    color: var(--mai-muted);
    display: flex;
    align-items: center;
    gap: 0.4rem;
  }
  .value {
    margin: 0.35rem 0 0.15rem;
    font-size: 1.45rem;
    font-weight: 700;
    font-variant-numeric: tabular-nums;
    overflow-wrap: anywhere;
  }
  .detail {
    margin: 0;
    font-size: 0.8rem;
    color: var(--mai-muted);
  }
  .dot {
    width: 0.55rem;
    height: 0.55rem;
    border-radius: 50%;
    background: var(--mai-ok);
    animation: pulse 2s ease-in-out infinite;
  }
  @keyframes pulse {
    0%,
    100% {
      opacity: 1;
      transform: scale(1);
    }
    50% {
      opacity: 0.35;
      transform: scale(0.8);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .dot {
      animation: none;
    }
  }
`;
