import { css } from 'lit';

export const myUsageStyles = css`
  .cards {
    grid-template-columns: repeat(2, minmax(0, 1fr));
  }
  section + section {
    margin-top: 0.5rem;
  }
  @container (max-width: 400px) {
    .cards {
      grid-template-columns: minmax(0, 1fr);
    }
  }
  h3 {
    font-size: 0.95rem;
    margin: 1rem 0 0;
  }
`;
