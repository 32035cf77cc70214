// A finished run's results and its model graph. Both are fixed once the run has
// finished, so they are never stale; a run.* event still refetches them (Layout
// invalidates ["runs"]), which is how a 409 turns into results when the run finishes.
import { useQuery } from "@tanstack/react-query";
import { api, isNotFound, unwrap } from "@/api/client";
import type { ModelGraph, RunResultsPayload } from "./types";

export function useRunResults(runId: string, enabled = true) {
  return useQuery({
    queryKey: ["runs", runId, "results"],
    queryFn: (): Promise<RunResultsPayload> =>
      unwrap(api.GET("/api/train/results/{run_id}/", { params: { path: { run_id: runId } } })),
    staleTime: Infinity,
    enabled,
  });
}

/** The model's graph, or null for a model that has none (the API answers 404). */
export function useRunGraph(runId: string) {
  return useQuery({
    queryKey: ["runs", runId, "graph"],
    queryFn: async (): Promise<ModelGraph | null> => {
      try {
        return await unwrap(api.GET("/api/viz/graph/{run_id}/", { params: { path: { run_id: runId } } }));
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    staleTime: Infinity,
  });
}
