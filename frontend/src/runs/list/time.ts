// Dates and durations of runs, in the reader's locale.

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDateTime(iso: string): string {
  return DATE_TIME.format(new Date(iso));
}

/** Milliseconds from start to finish; an unfinished run counts up to `now`. */
export function durationMs(startedAt: string | null, finishedAt: string | null, now = Date.now()) {
  if (!startedAt) return undefined;
  return (finishedAt ? Date.parse(finishedAt) : now) - Date.parse(startedAt);
}

/** "45 s", "3 min 05 s", "2 h 07 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}
