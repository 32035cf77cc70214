// Numbers and names as the results screen shows them.
import type { BinaryScores, Label, Metrics } from "./types";

const fourDigits = new Intl.NumberFormat("en", {
  minimumSignificantDigits: 4,
  maximumSignificantDigits: 4,
});
const whole = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

/** A measured value to 4 significant digits; a missing one (null, NaN) as a dash. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return fourDigits.format(value);
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return whole.format(value);
}

export function formatShare(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return percent.format(value);
}

export function formatLabel(label: Label | null | undefined): string {
  return label === null || label === undefined ? "(missing)" : String(label);
}

/** The metric names of the engine, readably; clinical ones first for classification. */
const CLASSIFICATION_METRICS: [string, string][] = [
  ["sensitivity", "Sensitivity (recall of the positive class)"],
  ["specificity", "Specificity"],
  ["balanced_accuracy", "Balanced accuracy"],
  ["mcc", "MCC (Matthews correlation)"],
  ["brier_score", "Brier score"],
  ["roc_auc", "ROC AUC"],
  ["average_precision", "PR AUC (average precision)"],
  ["accuracy", "Accuracy"],
  ["precision", "Precision (positive predictive value)"],
  ["npv", "NPV (negative predictive value)"],
  ["recall", "Recall"],
  ["f1", "F1"],
  ["precision_macro", "Precision (macro average)"],
  ["recall_macro", "Recall (macro average)"],
  ["f1_macro", "F1 (macro average)"],
  ["roc_auc_micro", "ROC AUC (micro average)"],
  ["average_precision_micro", "PR AUC (micro average)"],
  ["log_loss", "Log loss"],
  ["n_test", "Test rows"],
];
const REGRESSION_METRICS: [string, string][] = [
  ["r2", "R²"],
  ["mae", "MAE (mean absolute error)"],
  ["rmse", "RMSE (root mean squared error)"],
  ["mse", "MSE (mean squared error)"],
  ["n_test", "Test rows"],
];
/** Multi-class runs report the macro average under the binary names. */
const MULTICLASS_NAMES: Record<string, string> = {
  roc_auc: "ROC AUC (macro average)",
  average_precision: "PR AUC (macro average)",
};
/** Metrics that do not depend on where the decision threshold is. */
const THRESHOLD_FREE = new Set([
  "brier_score",
  "roc_auc",
  "average_precision",
  "roc_auc_micro",
  "average_precision_micro",
  "log_loss",
  "n_test",
]);

/** Numbers the metrics carry that are settings, not scores: shown in their own words. */
const NOT_A_METRIC = new Set(["threshold"]);

/** A metric's readable name, as the metrics table gives it. */
export function metricName(key: string): string {
  if (key === "ppv") return "PPV (positive predictive value)";
  return CLASSIFICATION_METRICS.find(([name]) => name === key)?.[1] ?? REGRESSION_METRICS.find(([name]) => name === key)?.[1] ?? humanise(key);
}

/** How a threshold rule chose the cut-off, in words. */
export function ruleText(rule: string): string {
  if (rule === "youden") return "Youden's J (sensitivity + specificity − 1) at its highest";
  if (rule === "0.5") return "the fixed rule 0.5";
  const floor = /^(sensitivity|specificity)>=(.+)$/.exec(rule);
  if (floor) return `${floor[1]} of at least ${floor[2]}`;
  return rule;
}

export interface MetricRow {
  key: string;
  name: string;
  value: number | null;
  /** At the operating threshold, where the engine measured it there. */
  tuned?: number | null;
  thresholdFree: boolean;
  count: boolean;
}

export function humanise(key: string): string {
  const words = key.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Every numeric metric of the run, in reading order: known names first, then the rest. */
export function metricRows(
  metrics: Metrics,
  { classification, tuned }: { classification: boolean; tuned?: BinaryScores | null },
): MetricRow[] {
  const values = Object.entries(metrics).filter(
    (entry): entry is [string, number | null] =>
      !NOT_A_METRIC.has(entry[0]) && (typeof entry[1] === "number" || entry[1] === null),
  );
  const known = classification ? CLASSIFICATION_METRICS : REGRESSION_METRICS;
  const order = new Map(known.map(([key], index) => [key, index]));
  const multiclass = classification && metrics.roc_auc_micro !== undefined;
  const tunedValues = (tuned ?? {}) as Record<string, number | null | undefined>;
  return values
    .sort(([a], [b]) => (order.get(a) ?? order.size) - (order.get(b) ?? order.size) || a.localeCompare(b))
    .map(([key, value]) => ({
      key,
      name:
        (multiclass && MULTICLASS_NAMES[key]) ||
        known.find(([name]) => name === key)?.[1] ||
        humanise(key),
      value,
      tuned: key in tunedValues ? tunedValues[key] : undefined,
      thresholdFree: THRESHOLD_FREE.has(key),
      count: key === "n_test",
    }));
}
