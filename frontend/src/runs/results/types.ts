// The results payloads by the names the OpenAPI schema gives them (generated types only).
import type { Schemas } from "@/api/client";

export type RunResultsPayload = Schemas["RunResults"];
export type Metrics = Schemas["Metrics"];
export type ConfusionMatrix = Schemas["ConfusionMatrix"];
export type RocCurve = Schemas["RocCurve"];
export type PrCurve = Schemas["PrCurve"];
export type Calibration = Schemas["Calibration"];
export type Threshold = Schemas["Threshold"];
export type BinaryScores = Schemas["BinaryScores"];
export type FeatureImportance = Schemas["FeatureImportance"];
export type SubgroupMetrics = Schemas["SubgroupMetrics"];
export type Subgroup = Schemas["Subgroup"];
export type TrainingHistory = Schemas["TrainingHistory"];
export type ModelGraph = Schemas["ModelGraph"];
export type ModelGraphNode = Schemas["ModelGraphNode"];
export type ModelGraphEdge = Schemas["ModelGraphEdge"];
/** A class label as the engine stores it. */
export type Label = ConfusionMatrix["labels"][number];
