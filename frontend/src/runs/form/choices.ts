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
