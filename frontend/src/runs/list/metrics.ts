// Metric values as the screens show and rank them.

const LOWER_IS_BETTER = /loss|brier|mae|mse|error/i;
/** Counts and positions, not scores: shown but never ranked. */
const NOT_SCORES = new Set(["epoch", "n_test", "seq"]);

/** Losses and errors (loss, log_loss, brier_score, mae, rmse, ...) are better small. */
export function lowerIsBetter(name: string): boolean {
  return LOWER_IS_BETTER.test(name);
}

export function isScore(name: string): boolean {
  return !NOT_SCORES.has(name);
}

/** The finite numbers of a metrics object (the schema leaves its shape open). */
export function numericMetrics(value: unknown): Record<string, number> {
  const numbers: Record<string, number> = {};
  if (!value || typeof value !== "object" || Array.isArray(value)) return numbers;
  for (const [name, metric] of Object.entries(value)) {
    if (typeof metric === "number" && Number.isFinite(metric)) numbers[name] = metric;
  }
  return numbers;
}

/** The latest epoch's metrics of a run, without the epoch number itself. */
export function latestMetrics(value: unknown): Record<string, number> {
  const { epoch: _epoch, ...metrics } = numericMetrics(value);
  return metrics;
}

export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(3);
}

/** Indices of the best values of a row; none when fewer than two differ. */
export function bestIndices(name: string, values: readonly (number | null | undefined)[]): Set<number> {
  const present = values.filter((v): v is number => typeof v === "number");
  if (!isScore(name) || present.length < 2 || new Set(present).size < 2) return new Set();
  const best = lowerIsBetter(name) ? Math.min(...present) : Math.max(...present);
  return new Set(values.flatMap((v, i) => (v === best ? [i] : [])));
}
