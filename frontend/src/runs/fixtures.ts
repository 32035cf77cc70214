// Test data for the run screens, shaped by the generated API types. The model types are
// the engine's own specs (training/ml/config.py), three of the six.
import type { Schemas } from "@/api/client";
import type { MetricsMessage } from "@/api/ws";

export const modelTypes: Schemas["ModelTypes"] = {
  model_types: [
    {
      model_type: "logistic_regression",
      tasks: ["classification"],
      hyperparameters: [
        {"name": "C", "kind": "float", "tasks": ["classification"], "default": {"classification": 1.0}, "choices": {"classification": []}, "minimum": 0, "maximum": 1000000.0, "exclusive_minimum": true, "exclusive_maximum": false, "nullable": false, "help": "inverse L2 regularisation strength"},
        {"name": "max_iter", "kind": "int", "tasks": ["classification"], "default": {"classification": 100}, "choices": {"classification": []}, "minimum": 1, "maximum": 100000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "class_weight", "kind": "choice", "tasks": ["classification"], "default": {"classification": null}, "choices": {"classification": ["balanced"]}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": true, "help": "'balanced' weights classes inversely to their frequency"},
      ],
    },
    {
      model_type: "random_forest",
      tasks: ["classification", "regression"],
      hyperparameters: [
        {"name": "n_estimators", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 100, "regression": 100}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 5000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "max_depth", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": null, "regression": null}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 1000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": true, "help": "maximum tree depth; null grows until leaves are pure"},
        {"name": "min_samples_split", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 2, "regression": 2}, "choices": {"classification": [], "regression": []}, "minimum": 2, "maximum": 1000000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "min_samples_leaf", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 1, "regression": 1}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 1000000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "max_features", "kind": "max_features", "tasks": ["classification", "regression"], "default": {"classification": "sqrt", "regression": 1.0}, "choices": {"classification": ["sqrt", "log2"], "regression": ["sqrt", "log2"]}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": true, "help": "'sqrt', 'log2', a fraction in (0, 1], or null for all features"},
        {"name": "class_weight", "kind": "choice", "tasks": ["classification"], "default": {"classification": null}, "choices": {"classification": ["balanced", "balanced_subsample"]}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": true, "help": ""},
      ],
    },
    {
      model_type: "neural_network",
      tasks: ["classification", "regression"],
      hyperparameters: [
        {"name": "hidden_layers", "kind": "int_list", "tasks": ["classification", "regression"], "default": {"classification": [64, 32], "regression": [64, 32]}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 4096, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": "units per hidden layer, at most 16 layers"},
        {"name": "activation", "kind": "choice", "tasks": ["classification", "regression"], "default": {"classification": "relu", "regression": "relu"}, "choices": {"classification": ["relu", "tanh", "gelu", "leaky_relu"], "regression": ["relu", "tanh", "gelu", "leaky_relu"]}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "dropout", "kind": "float", "tasks": ["classification", "regression"], "default": {"classification": 0.0, "regression": 0.0}, "choices": {"classification": [], "regression": []}, "minimum": 0, "maximum": 1, "exclusive_minimum": false, "exclusive_maximum": true, "nullable": false, "help": ""},
        {"name": "batch_norm", "kind": "bool", "tasks": ["classification", "regression"], "default": {"classification": false, "regression": false}, "choices": {"classification": [], "regression": []}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "learning_rate", "kind": "float", "tasks": ["classification", "regression"], "default": {"classification": 0.001, "regression": 0.001}, "choices": {"classification": [], "regression": []}, "minimum": 0, "maximum": 1.0, "exclusive_minimum": true, "exclusive_maximum": false, "nullable": false, "help": "Adam learning rate"},
        {"name": "weight_decay", "kind": "float", "tasks": ["classification", "regression"], "default": {"classification": 0.0, "regression": 0.0}, "choices": {"classification": [], "regression": []}, "minimum": 0, "maximum": 1.0, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "batch_size", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 64, "regression": 64}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 65536, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "epochs", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 50, "regression": 50}, "choices": {"classification": [], "regression": []}, "minimum": 1, "maximum": 10000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": ""},
        {"name": "patience", "kind": "int", "tasks": ["classification", "regression"], "default": {"classification": 10, "regression": 10}, "choices": {"classification": [], "regression": []}, "minimum": 0, "maximum": 10000, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": false, "help": "epochs without val_loss improvement before stopping; 0 disables early stopping"},
        {"name": "class_weight", "kind": "choice", "tasks": ["classification"], "default": {"classification": "balanced"}, "choices": {"classification": ["balanced"]}, "minimum": null, "maximum": null, "exclusive_minimum": false, "exclusive_maximum": false, "nullable": true, "help": ""},
      ],
    },
  ],
};

export const DATASET_ID = "00000000-0000-4000-8000-0000000000d1";
export const RUN_ID = "00000000-0000-4000-8000-0000000000e1";
const WORKSPACE_ID = "00000000-0000-4000-8000-0000000000aa";

function column(name: string, extra: Partial<Schemas["ColumnProfile"]> = {}): Schemas["ColumnProfile"] {
  return {
    name,
    dtype: "int64",
    kind: "numeric",
    count: 100,
    missing: 0,
    missing_fraction: 0,
    unique: 50,
    min: 0,
    max: 99,
    mean: 50,
    std: 10,
    top: [],
    likely_identifier: false,
    identifier_reason: null,
    ...extra,
  };
}

export const datasetSummary: Schemas["DatasetSummary"] = {
  id: DATASET_ID,
  name: "Heart study",
  workspace: WORKSPACE_ID,
  description: "",
  original_filename: "heart.csv",
  format: "csv",
  delimiter: ",",
  encoding: "utf-8",
  compression: "",
  rows: 100,
  n_columns: 4,
  size_bytes: 2048,
  sha256: "0".repeat(64),
  status: "ready",
  stage: "",
  error: "",
  error_code: "",
  created_by: "alice",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

export const dataset: Schemas["Dataset"] = {
  ...datasetSummary,
  columns: [
    column("patient_id", { unique: 100, likely_identifier: true, identifier_reason: "unique per row" }),
    column("age"),
    column("cholesterol"),
    column("sex", { kind: "categorical", dtype: "string", unique: 2, top: [{ value: "F", count: 52 }, { value: "M", count: 48 }] }),
    column("outcome", { unique: 2, top: [{ value: 0, count: 70 }, { value: 1, count: 30 }] }),
  ],
  suggested_targets: [{ column: "outcome", task: "classification", classes: 2, reason: "two classes" }],
};

export function run(extra: Partial<Schemas["Run"]> = {}): Schemas["Run"] {
  return {
    id: RUN_ID,
    name: "Heart baseline",
    workspace: WORKSPACE_ID,
    dataset: DATASET_ID,
    model_type: "neural_network",
    task: "classification",
    target: "outcome",
    features: null,
    hyperparameters: {},
    random_seed: 42,
    test_size: 0.2,
    status: "running",
    progress: { epoch: 2, total_epochs: 50, fraction: 0.04 },
    latest_metrics: null,
    error: "",
    model: null,
    created_by: "alice",
    created_at: "2026-01-01T00:00:00Z",
    started_at: "2026-01-01T00:00:01Z",
    finished_at: null,
    ...extra,
  };
}

/** One epoch as the stream sends it. */
export function epoch(seq: number, values: Partial<MetricsMessage> = {}): MetricsMessage {
  return {
    type: "metrics",
    seq,
    epoch: seq,
    timestamp: `2026-01-01T00:00:${String(seq % 60).padStart(2, "0")}Z`,
    loss: 1 / seq,
    val_loss: 1.1 / seq,
    accuracy: 0.5 + seq / 100,
    val_accuracy: 0.5 + seq / 120,
    ...values,
  };
}
