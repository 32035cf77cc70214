// The form's starting choices, from the dataset's profile and the engine's model types.
import type { Dataset, ModelTypeSpec, Task } from "../queries";

type Column = Dataset["columns"][number];

/** Regression above this many distinct numbers, as the engine infers (config.infer_task). */
const MAX_CLASSIFICATION_LEVELS = 20;

export function initialTarget(dataset: Dataset): string {
  const names = new Set(dataset.columns.map((c) => c.name));
  const suggested = dataset.suggested_targets.find((s) => names.has(s.column));
  if (suggested) return suggested.column;
  return (dataset.columns.find((c) => !c.likely_identifier) ?? dataset.columns[0])?.name ?? "";
}

/** The task the server suggests for a target, else the engine's rule of thumb. */
export function taskFor(dataset: Dataset, target: string): Task {
  const suggested = dataset.suggested_targets.find((s) => s.column === target);
  if (suggested) return suggested.task;
  const column = dataset.columns.find((c) => c.name === target);
  return column?.kind === "numeric" && column.unique > MAX_CLASSIFICATION_LEVELS
    ? "regression"
    : "classification";
}

/** A model type that does `task`: the current one if it can, else the first that can. */
export function modelTypeFor(modelTypes: ModelTypeSpec[], task: Task, current?: string): string {
  const can = (spec: ModelTypeSpec) => spec.tasks.includes(task);
  const kept = modelTypes.find((spec) => spec.model_type === current && can(spec));
  return (kept ?? modelTypes.find(can) ?? modelTypes[0])?.model_type ?? "";
}

export function isBinary(column: Column | undefined, task: Task): boolean {
  return task === "classification" && column?.unique === 2;
}

/** Likely identifiers (PHI) are left out of the features unless the user checks them. */
export function initialExcluded(dataset: Dataset): Set<string> {
  return new Set(dataset.columns.filter((c) => c.likely_identifier).map((c) => c.name));
}

/** The labels that name the event, as the engine reads them (case-insensitive). */
const EVENT_LABELS = new Set(["1", "true", "yes", "positive"]);

/** The index (in the column's top values) of the label that means the event, when
 * exactly one of a binary target's labels says so; the engine picks it by default. */
export function eventLabelIndex(column: Column | undefined): number | null {
  const matches = (column?.top ?? [])
    .map((top, index) => ({ index, text: String(top.value).trim().toLowerCase() }))
    .filter((label) => EVENT_LABELS.has(label.text));
  return matches.length === 1 ? matches[0].index : null;
}

/** Why each column will be left out of the run, as the engine will record it. */
export function exclusionReasons(columns: Column[], excluded: Set<string>): { name: string; reason: string }[] {
  return columns
    .filter((column) => excluded.has(column.name))
    .map((column) => ({
      name: column.name,
      reason: column.likely_identifier
        ? `likely identifier${column.identifier_reason ? `: ${column.identifier_reason}` : ""}`
        : "left out by you",
    }));
}
