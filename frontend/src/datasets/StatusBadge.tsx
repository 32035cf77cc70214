import type { DatasetStatus } from "./api";

const LABELS: Record<DatasetStatus, string> = {
  processing: "Processing",
  ready: "Ready",
  rejected: "Rejected",
};

/** The dataset's kind and state, in words (the colour only repeats them). */
export function StatusBadge({ status, kind }: { status: DatasetStatus; kind?: string }) {
  return (
    <span className={`badge status-${status}`}>
      {kind && kind !== "tabular" ? `${kind} · ` : ""}
      {LABELS[status]}
    </span>
  );
}
