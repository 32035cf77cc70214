// Queries of the run screens. Keys: ["runs", id] for a run (its results sit under it, so
// invalidating the run's prefix refreshes both), ["datasets", ...] for datasets.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/api/client";
import { runQueryKey } from "./live/useTrainingStream";

export type Run = Schemas["Run"];
export type Dataset = Schemas["Dataset"];
export type DatasetSummary = Schemas["DatasetSummary"];
export type ModelTypeSpec = Schemas["ModelTypeSpec"];
export type HyperparameterSpec = Schemas["HyperparameterSpec"];
export type RunStartRequest = Schemas["RunStartRequest"];
export type Task = Schemas["TaskEnum"];

/** The server allows pages of at most 500; a workspace's datasets fit in one. */
const DATASET_PAGE = 500;

export function useRun(runId: string) {
  return useQuery({
    queryKey: runQueryKey(runId),
    queryFn: () => unwrap(api.GET("/api/train/{id}/", { params: { path: { id: runId } } })),
  });
}

/** The workspace's datasets that can be trained on (uploads still parsing or refused cannot). */
export function useTrainableDatasets(workspace: string) {
  return useQuery({
    queryKey: ["datasets", workspace, "trainable"],
    queryFn: async () => {
      const page = await unwrap(
        api.GET("/api/data/", {
          params: { query: { workspace, status: "ready", page_size: DATASET_PAGE } },
        }),
      );
      return page.results;
    },
  });
}

export function useDatasetDetail(id: string) {
  return useQuery({
    queryKey: ["datasets", "detail", id],
    queryFn: () => unwrap(api.GET("/api/data/{id}/", { params: { path: { id } } })),
    enabled: Boolean(id),
  });
}

/** The engine's model types: fixed while the server runs. */
export function useModelTypes() {
  return useQuery({
    queryKey: ["model-types"],
    queryFn: () => unwrap(api.GET("/api/train/model-types/")),
    staleTime: Infinity,
  });
}

export function useStartRun() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: RunStartRequest) => unwrap(api.POST("/api/train/start/", { body })),
    onSuccess: (run) => {
      client.setQueryData(runQueryKey(run.id), run);
      void client.invalidateQueries({ queryKey: ["runs"], predicate: (q) => q.queryKey[1] !== run.id });
    },
  });
}

export function useStopRun(runId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/train/stop/{run_id}/", { params: { path: { run_id: runId } } })),
    onSuccess: (status) => {
      client.setQueryData<Run>(runQueryKey(runId), (run) => (run ? { ...run, ...status } : run));
    },
  });
}
