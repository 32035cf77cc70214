// The per-epoch (or per-stage) curves of a run as named series.
import { formatCount, formatNumber } from "./format";
import type { TrainingHistory } from "./types";

export interface HistorySeries {
  label: string;
  values: (number | null)[];
  /** Which axis: the loss on the left, accuracy or MAE on the right. */
  scale: "loss" | "score";
  validation: boolean;
}

export function historySeries(history: TrainingHistory, regression: boolean): HistorySeries[] {
  const loss = regression ? "loss (MSE)" : "loss";
  const series: HistorySeries[] = [
    { label: `Train ${loss}`, values: history.train_loss, scale: "loss", validation: false },
    { label: `Validation ${loss}`, values: history.val_loss, scale: "loss", validation: true },
  ];
  if (history.train_accuracy || history.val_accuracy) {
    series.push(
      { label: "Train accuracy", values: history.train_accuracy ?? [], scale: "score", validation: false },
      { label: "Validation accuracy", values: history.val_accuracy ?? [], scale: "score", validation: true },
    );
  }
  if (history.train_mae || history.val_mae) {
    series.push(
      { label: "Train MAE", values: history.train_mae ?? [], scale: "score", validation: false },
      { label: "Validation MAE", values: history.val_mae ?? [], scale: "score", validation: true },
    );
  }
  // A series the model never reported (no validation rows, say) is left out.
  return series.filter((entry) => entry.values.some((value) => value !== null));
}

/** The last value of each series, for the chart's caption. */
export function historySummary(history: TrainingHistory, series: HistorySeries[], unit: string): string {
  const count = history.epochs.length;
  const last = series
    .map((entry) => {
      const value = [...entry.values].reverse().find((item) => item !== null);
      return value === undefined ? null : `${entry.label} ${formatNumber(value)}`;
    })
    .filter(Boolean);
  return `${formatCount(count)} ${unit}${count === 1 ? "" : "s"}${last.length ? `; at the last: ${last.join(", ")}` : ""}.`;
}
