// The workspace's runs and dataset names, as the runs list, the compare picker and the
// overview read them, plus the few rules about runs and metrics those screens share.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "@/api/client";
import { useWorkspace } from "@/workspace/WorkspaceContext";

export type Run = Schemas["Run"];
export type RunStatus = Schemas["RunStatusEnum"];

export const RUN_STATUSES: RunStatus[] = ["queued", "running", "stopping", "succeeded", "failed", "stopped"];
const ACTIVE: ReadonlySet<string> = new Set(["queued", "running", "stopping"]);

/** Queued, running or stopping: its row still changes, so lists poll while one is. */
export function isActive(status: string): boolean {
  return ACTIVE.has(status);
}

/** Only a run that ended with a model has results; the others answer 409. */
export function hasResults(status: string): boolean {
  return status === "succeeded" || status === "stopped";
}

/** The server's largest page (medilytica_site/api.py, Pagination.max_page_size). */
const MAX_PAGE_SIZE = 500;
const POLL_MS = 3000;

/** Every run of a workspace (newest first), page by page at the largest page size.
 * Sorting by any metric needs them all, so dataset and model type filter here too. */
export async function fetchAllRuns(workspace: string, status?: RunStatus): Promise<Run[]> {
  const runs: Run[] = [];
  for (let page = 1; ; page += 1) {
    const query = { workspace, page, page_size: MAX_PAGE_SIZE, ...(status && { status }) };
    const body = await unwrap(api.GET("/api/train/", { params: { query } }));
    runs.push(...body.results);
    if (!body.next) return runs;
  }
}

/** Polls every 3 s while any of the runs is queued or running. */
export function pollWhileActive(runs: readonly { status: string }[] | undefined): number | false {
  return runs?.some((run) => isActive(run.status)) ? POLL_MS : false;
}

export function useWorkspaceRuns(status?: RunStatus) {
  const { workspace } = useWorkspace();
  return useQuery({
    queryKey: ["runs", workspace.id, "all", status ?? "any"],
    queryFn: () => fetchAllRuns(workspace.id, status),
    refetchInterval: (query) => pollWhileActive(query.state.data),
  });
}

async function fetchAllDatasets(workspace: string) {
  const datasets: Schemas["DatasetSummary"][] = [];
  for (let page = 1; ; page += 1) {
    const query = { workspace, page, page_size: MAX_PAGE_SIZE };
    const body = await unwrap(api.GET("/api/data/", { params: { query } }));
    datasets.push(...body.results);
    if (!body.next) return datasets;
  }
}

// Module-level, so the map is rebuilt only when the datasets change, not on each render.
const namesById = (datasets: Schemas["DatasetSummary"][]) => new Map(datasets.map((d) => [d.id, d.name]));

/** Dataset id -> name for the workspace, to name the dataset of each run. */
export function useDatasetNames() {
  const { workspace } = useWorkspace();
  return useQuery({
    queryKey: ["datasets", workspace.id, "names"],
    queryFn: () => fetchAllDatasets(workspace.id),
    select: namesById,
  });
}

/** A run's name, or a short id for a run saved without one. */
export function runLabel(run: Pick<Run, "id" | "name">): string {
  return run.name || `Run ${run.id.slice(0, 8)}`;
}

/** The name of a run's dataset; a deleted dataset leaves the run without one. */
export function datasetLabel(id: string | null, names: ReadonlyMap<string, string> | undefined): string {
  if (!id) return "Deleted dataset";
  return names?.get(id) ?? `Dataset ${id.slice(0, 8)}`;
}

/** "random_forest" -> "Random forest". */
export function humanise(name: string): string {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
