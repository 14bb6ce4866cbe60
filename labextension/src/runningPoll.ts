/**
 * Asks again and again only while there is something to watch: `ask` answers
 * whether to keep polling (a running server, whose client count changes), and
 * a poll that stops waits for `refresh()` (a kernel signal) to ask again.
 */
export class RunningPoll {
  constructor(
    private readonly ask: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly errorIntervalMs: number = intervalMs * 4
  ) {}

  /** Asks now (after the question in flight, if any), then goes on if told to. */
  refresh(): void {
    if (this.disposed) {
      return;
    }
    this.clearTimer();
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.ask().then(
      keepGoing => this.settled(keepGoing ? this.intervalMs : null),
      () => this.settled(this.errorIntervalMs)
    );
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimer();
  }

  private settled(nextInMs: number | null): void {
    this.inFlight = false;
    if (this.disposed) {
      return;
    }
    if (this.again) {
      this.again = false;
      this.refresh();
      return;
    }
    if (nextInMs !== null) {
      this.timer = setTimeout(() => this.tick(nextInMs), nextInMs);
    }
  }

  /** A scheduled question; skipped, not dropped, while the page is hidden. */
  private tick(intervalMs: number): void {
    if (typeof document !== 'undefined' && document.hidden) {
      this.timer = setTimeout(() => this.tick(intervalMs), intervalMs);
      return;
    }
    this.refresh();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = false;
  private again = false;
  private disposed = false;
}
