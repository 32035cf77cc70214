// Queries and mutations of the datasets screens, one place for their keys: every key
// starts with "datasets" so the notifications socket's invalidation reaches them all.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/api/client";

export type DatasetSummary = Schemas["DatasetSummary"];
export type Dataset = Schemas["Dataset"];
export type Preview = Schemas["Preview"];

/**
 * Worker-parsed uploads (DESIGN §4) add `status`, `error` and `kind` to a dataset; the
 * schema does not describe them yet, so they are read here, defensively, and a dataset
 * without them is a ready table (what the server answers today).
 */
export type DatasetStatus = "processing" | "ready" | "rejected";
interface Lifecycle {
  status?: DatasetStatus;
  error?: string | null;
  kind?: string;
}

export function lifecycle(dataset: DatasetSummary | Dataset): {
  status: DatasetStatus;
  error: string | null;
  kind: string;
} {
  const extra = dataset as Lifecycle;
  return { status: extra.status ?? "ready", error: extra.error ?? null, kind: extra.kind ?? "tabular" };
}

const POLL_MS = 2_000;
export const LIST_PAGE_SIZE = 50;

export function useDatasetList(workspace: string, page: number) {
  return useQuery({
    queryKey: ["datasets", "list", workspace, page],
    queryFn: () =>
      unwrap(
        api.GET("/api/data/", {
          params: { query: { workspace, page, page_size: LIST_PAGE_SIZE } },
        }),
      ),
    placeholderData: keepPreviousData,
    // The notifications socket also says when parsing ends; polling covers a dropped socket.
    refetchInterval: (query) =>
      query.state.data?.results.some((d) => lifecycle(d).status === "processing") ? POLL_MS : false,
  });
}

export function useDataset(id: string) {
  return useQuery({
    queryKey: ["datasets", "detail", id],
    queryFn: () => unwrap(api.GET("/api/data/{id}/", { params: { path: { id } } })),
    refetchInterval: (query) =>
      query.state.data && lifecycle(query.state.data).status === "processing" ? POLL_MS : false,
  });
}

export function useDeleteDataset() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/data/{id}/", { params: { path: { id } } })),
    onSuccess: (_data, id) => {
      client.removeQueries({ queryKey: ["datasets", "detail", id] });
      client.removeQueries({ queryKey: ["datasets", id] });
      return client.invalidateQueries({ queryKey: ["datasets"] });
    },
  });
}

/** Rows per preview request (the server allows up to 500). */
export const PREVIEW_PAGE_ROWS = 200;

export function previewPageQuery(id: string, page: number) {
  return {
    queryKey: ["datasets", id, "preview", page] as const,
    queryFn: () =>
      unwrap(
        api.GET("/api/data/preview/{id}/", {
          params: { path: { id }, query: { offset: page * PREVIEW_PAGE_ROWS, limit: PREVIEW_PAGE_ROWS } },
        }),
      ),
    // A stored dataset never changes: a page once read stays right.
    staleTime: Infinity,
  };
}
