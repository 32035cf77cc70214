// Queries and mutations of the datasets screens, one place for their keys: every key
// starts with "datasets" so the notifications socket's invalidation reaches them all.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/api/client";

export type DatasetSummary = Schemas["DatasetSummary"];
export type Dataset = Schemas["Dataset"];
export type Preview = Schemas["Preview"];

/** A worker parses each upload: `processing` (its `stage` says how far), then `ready` or `rejected`. */
export type DatasetStatus = Schemas["UploadStatusEnum"];

/** The stages of a processing upload, in order, as the server names them. */
export const UPLOAD_STAGES = ["queued", "reading", "profiling", "storing", "saving"] as const;

const STAGE_WORDS: Record<string, string> = {
  queued: "waiting for a worker",
  reading: "reading the file",
  profiling: "profiling the columns",
  storing: "storing a copy",
  saving: "saving",
};

/** "reading the file (step 2 of 5)", or null when the stage is unknown. */
export function stageInWords(stage: string): string | null {
  const index = UPLOAD_STAGES.indexOf(stage as (typeof UPLOAD_STAGES)[number]);
  if (index < 0) return null;
  return `${STAGE_WORDS[stage]} (step ${index + 1} of ${UPLOAD_STAGES.length})`;
}

export function lifecycle(dataset: DatasetSummary | Dataset): {
  status: DatasetStatus;
  error: string | null;
  stage: string;
} {
  return { status: dataset.status, error: dataset.error || null, stage: dataset.stage };
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
