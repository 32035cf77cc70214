// A finished run's stored history (its results' `training_history`, one array per
// series) as the points a CurveStore draws, so it is drawn by the same charts as a
// streamed one.
import type { MetricsMessage } from "@/api/ws";
import type { TrainingHistory } from "../results/types";

export function historyPoints(history: TrainingHistory): MetricsMessage[] {
  return history.epochs.map((epoch, index) => ({
    type: "metrics",
    seq: index + 1,
    epoch,
    timestamp: "", // the stored history keeps no times
    loss: history.train_loss[index] ?? null,
    val_loss: history.val_loss[index] ?? null,
    ...(history.train_accuracy || history.val_accuracy
      ? {
          accuracy: history.train_accuracy?.[index] ?? null,
          val_accuracy: history.val_accuracy?.[index] ?? null,
        }
      : {}),
    ...(history.train_mae || history.val_mae
      ? { mae: history.train_mae?.[index] ?? null, val_mae: history.val_mae?.[index] ?? null }
      : {}),
  }));
}
