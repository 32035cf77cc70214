import type { DatasetStatus } from "./api";

const LABELS: Record<DatasetStatus, string> = {
  processing: "Processing",
  ready: "Ready",
  rejected: "Rejected",
};

/** The dataset's state, in words (the colour only repeats them). */
export function StatusBadge({ status }: { status: DatasetStatus }) {
  return <span className={`badge status-${status}`}>{LABELS[status]}</span>;
}
