// A run's status as a badge: the word itself carries the meaning, the colour repeats it.
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}
