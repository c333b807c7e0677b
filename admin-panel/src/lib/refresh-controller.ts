import type { ReactiveController, ReactiveControllerHost } from 'lit';

/**
 * Bumps `tick` every `seconds` while the page is visible and the host is on screen, and on
 * demand; pages put `tick` in their tasks' arguments so a bump re-fetches.
 */
export class RefreshController implements ReactiveController {
  tick = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible') this.restart();
  };

  constructor(
    private readonly host: ReactiveControllerHost & HTMLElement,
    private readonly seconds: () => number,
  ) {
    host.addController(this);
  }

  hostConnected(): void {
    document.addEventListener('visibilitychange', this.onVisibility);
    this.restart();
  }

  hostDisconnected(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-fetch now (the refresh button). */
  refresh(): void {
    this.tick += 1;
    this.host.requestUpdate();
  }

  /** Starts the interval again, e.g. after the interval length changed. */
  restart(): void {
    clearInterval(this.timer);
    const seconds = this.seconds();
    if (!(seconds > 0)) return;
    this.timer = setInterval(() => {
      const onScreen = typeof this.host.checkVisibility === 'function' ? this.host.checkVisibility() : true;
      if (document.visibilityState === 'visible' && onScreen) this.refresh();
    }, seconds * 1000);
  }
}
