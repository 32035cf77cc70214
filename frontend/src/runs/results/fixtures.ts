// Results as the engine stores them (training/ml/evaluation.py), for the tests.
import type { ModelGraph, RunResultsPayload } from "./types";

const binaryScores = {
  accuracy: 0.9123,
  balanced_accuracy: 0.9011,
  sensitivity: 0.8571,
  specificity: 0.9452,
  precision: 0.9,
  npv: 0.92,
  recall: 0.8571,
  f1: 0.878,
  mcc: 0.8112,
};

export const binaryResults: RunResultsPayload = {
  status: "succeeded",
  metrics: {
    n_test: 114,
    ...binaryScores,
    precision_macro: 0.91,
    recall_macro: 0.9011,
    f1_macro: 0.905,
    log_loss: 0.2345,
    per_class: {
      benign: { precision: 0.92, recall: 0.9452, f1: 0.932, support: 72 },
      malignant: { precision: 0.9, recall: 0.8571, f1: 0.878, support: 42 },
    },
    roc_auc: 0.9712,
    average_precision: 0.9555,
    brier_score: 0.0712,
    confidence_intervals: {
      level: 0.95,
      method: "stratified_bootstrap_percentile",
      resamples: 1000,
      seed: 42,
      threshold: 0.3125,
      metrics: {
        roc_auc: { estimate: 0.9712, lower: 0.9401, upper: 0.993 },
        npv: { estimate: 0.92, lower: 0.86, upper: 0.97 },
        ppv: { estimate: 0.9, lower: 0.81, upper: 0.96 },
      },
    },
    cross_validation: {
      folds: 5,
      n_rows: 455,
      metrics: { roc_auc: { mean: 0.965, std: 0.012, values: [0.95, 0.96, 0.97, 0.975, 0.97] } },
    },
  },
  confusion_matrix: {
    labels: ["benign", "malignant"],
    matrix: [
      [68, 4],
      [6, 36],
    ],
    normalized: [
      [0.9444, 0.0556],
      [0.1429, 0.8571],
    ],
  },
  roc_curve: { fpr: [0, 0.05, 1], tpr: [0, 0.85, 1], thresholds: [null, 0.5, 0], auc: 0.9712, positive_class: "malignant" },
  pr_curve: {
    precision: [0.37, 0.9, 1],
    recall: [1, 0.85, 0],
    thresholds: [0.01, 0.5, null],
    average_precision: 0.9555,
    positive_class: "malignant",
  },
  calibration: {
    prob_true: [0.05, 0.5, 0.95],
    prob_pred: [0.04, 0.45, 0.9],
    n_bins: 10,
    strategy: "uniform",
    positive_class: "malignant",
  },
  threshold: {
    value: 0.3125,
    rule: "youden",
    method: "youden_j",
    chosen_on: "out_of_fold",
    cv_folds: 5,
    n_rows: 455,
    validation_youden_j: 0.8333,
    oof_youden_j: 0.8333,
    oof_sensitivity: 0.92,
    oof_specificity: 0.9133,
    positive_class: "malignant",
    metrics: { ...binaryScores, sensitivity: 0.9286, specificity: 0.9167 },
    confusion_matrix: {
      labels: ["benign", "malignant"],
      matrix: [
        [66, 6],
        [3, 39],
      ],
      normalized: [
        [0.9167, 0.0833],
        [0.0714, 0.9286],
      ],
    },
  },
  positive_class: "malignant",
  excluded_columns: [{ name: "patient_id", reason: "likely identifier (dataset profile: every value is different)" }],
  feature_importance: {
    features: ["radius_mean", "texture_mean", "age"],
    scores: [0.12, 0.05, -0.01],
    method: "permutation",
    scoring: "accuracy",
    n_rows: 114,
  },
  subgroup_metrics: {
    column: "sex",
    groups: [
      { value: "F", n: 60, accuracy: 0.9, balanced_accuracy: 0.89, f1_macro: 0.88, sensitivity: 0.85, specificity: 0.93, roc_auc: 0.96 },
      { value: null, n: 4, accuracy: 1, balanced_accuracy: 1, f1_macro: 1, sensitivity: null, specificity: 1, roc_auc: null },
    ],
    omitted_groups: 0,
  },
  training_history: {
    epochs: [1, 2, 3],
    train_loss: [0.6, 0.4, 0.3],
    val_loss: [0.62, 0.45, 0.35],
    train_accuracy: [0.7, 0.85, 0.9],
    val_accuracy: [0.68, 0.82, 0.88],
  },
  model: {
    id: null,
    model_type: "neural_network",
    task: "classification",
    hyperparameters: { hidden_layers: [64, 32] },
    stages_completed: 3,
    total_stages: 3,
  },
};

export const regressionResults: RunResultsPayload = {
  status: "succeeded",
  metrics: { n_test: 89, mae: 2.345, mse: 9.87, rmse: 3.142, r2: 0.8123 },
  confusion_matrix: null,
  roc_curve: null,
  pr_curve: null,
  calibration: null,
  threshold: null,
  positive_class: null,
  excluded_columns: [],
  feature_importance: { features: ["bmi", "age"], scores: [0.6, 0.4], method: "impurity" },
  subgroup_metrics: null,
  training_history: {
    epochs: [1],
    train_loss: [10.2],
    val_loss: [11.5],
    train_mae: [2.2],
    val_mae: [2.4],
  },
  model: {
    id: null,
    model_type: "random_forest",
    task: "regression",
    hyperparameters: {},
    stages_completed: 1,
    total_stages: 1,
  },
};

export const mlpGraph: ModelGraph = {
  nodes: [
    { id: "input", label: "Input (30 features)", type: "input", color: "#4C78A8" },
    { id: "hidden_1", label: "Dense 64 · BatchNorm · relu · dropout 0.2", type: "hidden", color: "#F58518" },
    { id: "output", label: "Output (2 classes, softmax)", type: "output", color: "#54A24B" },
  ],
  edges: [
    { from: "input", to: "hidden_1", weight: 0.2 },
    { from: "hidden_1", to: "output", weight: 0.1 },
  ],
};
