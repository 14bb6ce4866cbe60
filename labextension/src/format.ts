/** Human-readable counts and durations for the panel and the status bar. */

const COUNT_FORMAT = new Intl.NumberFormat('en-US');

/** `1234567` -> `1,234,567`. */
export function formatCount(count: number): string {
  return COUNT_FORMAT.format(count);
}

/** `42` -> `42 ms`, `1530` -> `1.53 s`, `95000` -> `1 min 35 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${Math.max(0, Math.round(ms))} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  }
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}
