import { css } from 'lit';

/**
 * Design tokens as --mai-* custom properties. Pages set them on :host; they inherit through
 * every shadow root below, and Open WebUI (or an operator's custom.css) may override any of them.
 * The loader mirrors Open WebUI's theme into the `theme` attribute ("light" | "dark").
 */
export const themeTokens = css`
  :host {
    --mai-font: var(--mai-font-family, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif);
    --mai-fg: #111827;
    --mai-muted: #4b5563;
    --mai-bg: #ffffff;
    --mai-surface: #f9fafb;
    --mai-border: #e5e7eb;
    --mai-accent: #2563eb;
    --mai-accent-fg: #ffffff;
    --mai-ok: #15803d;
    --mai-warn-bg: #fef3c7;
    --mai-warn-fg: #78350f;
    --mai-danger-bg: #fee2e2;
    --mai-danger-fg: #7f1d1d;
    --mai-bar: #3b82f6;
    --mai-bar-today: #15803d;
    --mai-radius: 0.75rem;
    --mai-focus: 0 0 0 2px var(--mai-bg), 0 0 0 4px var(--mai-accent);
    font-family: var(--mai-font);
    color: var(--mai-fg);
  }
  :host([theme='dark']) {
    --mai-fg: #f3f4f6;
    --mai-muted: #b4bac4;
    --mai-bg: #171717;
    --mai-surface: #262626;
    --mai-border: #3f3f46;
    --mai-accent: #60a5fa;
    --mai-accent-fg: #0b1220;
    --mai-ok: #4ade80;
    --mai-warn-bg: #422006;
    --mai-warn-fg: #fde68a;
    --mai-danger-bg: #450a0a;
    --mai-danger-fg: #fecaca;
    --mai-bar: #60a5fa;
    --mai-bar-today: #4ade80;
  }
`;

/** Buttons, inputs and helpers shared by every component. */
export const controls = css`
  * {
    box-sizing: border-box;
  }
  button,
  input,
  select {
    font: inherit;
    color: inherit;
  }
  button {
    cursor: pointer;
    border: 1px solid var(--mai-border);
    background: var(--mai-surface);
    border-radius: 0.5rem;
    padding: 0.35rem 0.8rem;
  }
  button.primary {
    background: var(--mai-accent);
    border-color: var(--mai-accent);
    color: var(--mai-accent-fg);
  }
  button:disabled {
    opacity: 0.6;
    cursor: default;
  }
  input,
  select {
    border: 1px solid var(--mai-border);
    background: var(--mai-bg);
    border-radius: 0.5rem;
    padding: 0.3rem 0.5rem;
    min-width: 0;
  }
  :focus-visible {
    outline: none;
    box-shadow: var(--mai-focus);
  }
  .muted {
    color: var(--mai-muted);
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`;
