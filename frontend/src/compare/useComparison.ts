// The compared runs, each fetched on its own: the run, its epoch history and, once it
// finished with a model, its results. A run still training is polled every 3 s.
import { useQueries } from "@tanstack/react-query";
import { api, ApiError, unwrap } from "@/api/client";
import { hasResults, isActive, pollWhileActive } from "@/runs/list/runData";

async function fetchResults(runId: string) {
  try {
    return await unwrap(api.GET("/api/train/results/{run_id}/", { params: { path: { run_id: runId } } }));
  } catch (error) {
    // 409: stopped before any stage, so there is nothing to show; not an error here.
    if (error instanceof ApiError && error.status === 409) return null;
    throw error;
  }
}

export function useComparison(ids: string[]) {
  const runs = useQueries({
    queries: ids.map((id) => ({
      queryKey: ["runs", "compare", id],
      queryFn: () => unwrap(api.GET("/api/train/{id}/", { params: { path: { id } } })),
      refetchInterval: (query: { state: { data?: { status: string } } }) =>
        pollWhileActive(query.state.data && [query.state.data]),
    })),
  });
  const histories = useQueries({
    queries: ids.map((id, i) => ({
      queryKey: ["runs", "compare", id, "history"],
      queryFn: () => unwrap(api.GET("/api/viz/metrics/{run_id}/", { params: { path: { run_id: id } } })),
      enabled: runs[i].isSuccess,
      refetchInterval: pollWhileActive(runs[i].data && [runs[i].data]),
    })),
  });
  const results = useQueries({
    queries: ids.map((id, i) => {
      const status = runs[i].data?.status;
      return {
        queryKey: ["runs", "compare", id, "results", status],
        queryFn: () => fetchResults(id),
        enabled: status !== undefined && hasResults(status) && !isActive(status),
      };
    }),
  });
  return { runs, histories, results };
}
