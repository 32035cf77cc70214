// What the comparison shows, worked out from the runs: configuration rows that may
// differ, metric rows with their best values, and curves aligned on the epoch.
import type uPlot from "uplot";
import type { Schemas } from "@/api/client";
import { bestIndices, latestMetrics, numericMetrics } from "@/runs/list/metrics";
import { datasetLabel, humanise, type Run } from "@/runs/list/runData";

export const MAX_RUNS = 6;

/** The ids of `?runs=a,b,...`, each once, in the order given. */
export function parseRunIds(value: string | null): string[] {
  const ids = (value ?? "").split(",").map((id) => id.trim()).filter(Boolean);
  return [...new Set(ids)];
}

export interface ConfigRow {
  label: string;
  values: string[];
  differs: boolean;
}

/** Shown where a run's model type has no such hyperparameter. */
const ABSENT = "—";

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function formatValue(value: unknown): string {
  if (value === undefined) return ABSENT;
  if (value === null) return "none";
  if (typeof value === "string") return value;
  return JSON.stringify(value).replace(/,/g, ", ");
}

/** Features are a set: the same columns in another order are the same configuration. */
function formatFeatures(value: unknown): string {
  if (!Array.isArray(value)) return "All columns";
  const names = value.map(String).sort((a, b) => a.localeCompare(b));
  const shown = names.slice(0, 8).join(", ");
  return names.length > 8 ? `${shown} and ${names.length - 8} more (${names.length})` : shown;
}

function row(label: string, values: string[]): ConfigRow {
  return { label, values, differs: new Set(values).size > 1 };
}

export type ModelTypeSpecs = Schemas["ModelTypes"]["model_types"];

/** A run's hyperparameters as the engine used them: what it was given, and for the rest
 * of its model type's parameters the default for its task, marked "(default)". */
function effectiveHyperparameters(run: Run, specs: ModelTypeSpecs | undefined) {
  const given = asRecord(run.hyperparameters);
  const values = new Map<string, { value: unknown; defaulted: boolean }>();
  for (const [key, value] of Object.entries(given)) values.set(key, { value, defaulted: false });
  const spec = specs?.find((candidate) => candidate.model_type === run.model_type);
  for (const parameter of spec?.hyperparameters ?? []) {
    if (values.has(parameter.name) || !parameter.tasks.includes(run.task as never)) continue;
    if (!(run.task in parameter.default)) continue;
    values.set(parameter.name, { value: parameter.default[run.task], defaulted: true });
  }
  return values;
}

export function configRows(
  runs: Run[],
  datasetNames: ReadonlyMap<string, string> | undefined,
  specs?: ModelTypeSpecs,
): ConfigRow[] {
  const hyperparameters = runs.map((run) => effectiveHyperparameters(run, specs));
  const keys = [...new Set(hyperparameters.flatMap((values) => [...values.keys()]))].sort();
  const hyperparameterRow = (key: string): ConfigRow => {
    const cells = hyperparameters.map((values) => values.get(key));
    // Differs by the value the engine used, whether or not it was typed in.
    const used = cells.map((cell) => formatValue(cell?.value));
    const shown = cells.map((cell, i) => (cell?.defaulted ? `${used[i]} (default)` : used[i]));
    return { label: key, values: shown, differs: new Set(used).size > 1 };
  };
  return [
    row("Dataset", runs.map((run) => datasetLabel(run.dataset, datasetNames))),
    row("Target", runs.map((run) => run.target)),
    row("Model type", runs.map((run) => humanise(run.model_type))),
    row("Task", runs.map((run) => run.task)),
    row("Features", runs.map((run) => formatFeatures(run.features))),
    row("Test size", runs.map((run) => `${Math.round(run.test_size * 100)}%`)),
    row("Seed", runs.map((run) => String(run.random_seed))),
    ...keys.map(hyperparameterRow),
  ];
}

export interface MetricRow {
  key: string;
  label: string;
  values: (number | null)[];
  best: Set<number>;
}

// The order the results serializer lists them in; unknown names follow alphabetically.
const METRIC_ORDER = [
  "accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "recall", "f1",
  "precision_macro", "recall_macro", "f1_macro", "mcc", "roc_auc", "roc_auc_micro",
  "average_precision", "average_precision_micro", "log_loss", "brier_score",
  "mae", "mse", "rmse", "r2", "n_test",
];

function ordered(keys: Iterable<string>): string[] {
  const rank = (key: string) => (METRIC_ORDER.includes(key) ? METRIC_ORDER.indexOf(key) : METRIC_ORDER.length);
  return [...new Set(keys)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Test-split metrics (from results) first, then the last epoch's training metrics,
 * which every run that trained has, finished or not. */
export function metricRows(runs: Run[], results: (Record<string, unknown> | null | undefined)[]): MetricRow[] {
  const tested = results.map((r) => numericMetrics(r));
  const epochs = runs.map((run) => latestMetrics(run.latest_metrics));
  const make = (key: string, label: string, source: Record<string, number>[]): MetricRow => {
    const values = source.map((metrics) => metrics[key] ?? null);
    return { key, label, values, best: bestIndices(key, values) };
  };
  return [
    ...ordered(tested.flatMap(Object.keys)).map((key) => make(key, key, tested)),
    ...ordered(epochs.flatMap(Object.keys)).map((key) => make(key, `${key} (last epoch)`, epochs)),
  ];
}

export interface Curve {
  epochs: readonly number[];
  values: readonly (number | null)[];
}

/** One x axis (every epoch any run reached) and one series per run, null where a run
 * has no value for an epoch, so runs of different lengths line up. */
export function alignByEpoch(curves: Curve[]): uPlot.AlignedData {
  const epochs = [...new Set(curves.flatMap((c) => c.epochs))].sort((a, b) => a - b);
  const series = curves.map((curve) => {
    const byEpoch = new Map(curve.epochs.map((epoch, i) => [epoch, curve.values[i] ?? null]));
    return epochs.map((epoch) => byEpoch.get(epoch) ?? null);
  });
  return [epochs, ...series];
}
