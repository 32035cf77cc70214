// Runs as the API sends them, for the tests of the screens that list and compare runs.
import type { Run } from "./runData";

const WORKSPACE = "00000000-0000-4000-8000-0000000000aa";

export function makeRun(overrides: Partial<Run> & Pick<Run, "id" | "name">): Run {
  return {
    workspace: WORKSPACE,
    dataset: "d0000000-0000-4000-8000-000000000001",
    model_type: "random_forest",
    task: "classification",
    target: "outcome",
    features: null,
    hyperparameters: { n_estimators: 100, max_depth: null },
    random_seed: 42,
    test_size: 0.2,
    status: "succeeded",
    progress: { epoch: 10, total_epochs: 10, fraction: 1 },
    latest_metrics: { epoch: 10, loss: 0.4, val_loss: 0.5, accuracy: 0.8, val_accuracy: 0.75 },
    error: "",
    model: null,
    created_by: "alice",
    created_at: "2025-01-10T09:00:00Z",
    started_at: "2025-01-10T09:00:05Z",
    finished_at: "2025-01-10T09:02:05Z",
    ...overrides,
  };
}

export function page<T>(results: T[]) {
  return { count: results.length, next: null, previous: null, results };
}

export const DATASETS = page([
  { id: "d0000000-0000-4000-8000-000000000001", name: "Heart disease", workspace: WORKSPACE, created_at: "2025-01-01T00:00:00Z" },
  { id: "d0000000-0000-4000-8000-000000000002", name: "Diabetes", workspace: WORKSPACE, created_at: "2025-01-02T00:00:00Z" },
]);
