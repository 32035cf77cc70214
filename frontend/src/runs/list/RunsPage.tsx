// /runs: the workspace's training runs, filtered, sorted by any column or metric, and
// picked (2 to 6) for comparison. Polls while a run is queued or running.
import { useId, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { Empty, QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { latestMetrics } from "./metrics";
import { DELETED_DATASET, NO_FILTERS, RunFilters, type Filters } from "./RunFilters";
import { datasetLabel, RUN_STATUSES, useDatasetNames, useWorkspaceRuns, type Run, type RunStatus } from "./runData";
import { RunsTable } from "./RunsTable";
import "./list.css";

export const MIN_COMPARE = 2;
export const MAX_COMPARE = 6;

export default function RunsPage() {
  const { workspace } = useWorkspace();
  useTitle("Training runs");
  // A new workspace starts with nothing selected.
  return <RunsScreen key={workspace.id} />;
}

function readFilters(params: URLSearchParams): Filters {
  const status = params.get("status") ?? "";
  return {
    dataset: params.get("dataset") ?? "",
    modelType: params.get("model_type") ?? "",
    status: RUN_STATUSES.includes(status as RunStatus) ? status : "",
  };
}

function RunsScreen() {
  const { canEdit } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => readFilters(params), [params]);
  const runs = useWorkspaceRuns((filters.status || undefined) as RunStatus | undefined);
  const datasetNames = useDatasetNames().data;
  const [selected, setSelected] = useState<string[]>([]);

  // Filters live in the address, so a filtered list is a link to share.
  const setFilters = (next: Filters) => {
    const search = new URLSearchParams();
    if (next.dataset) search.set("dataset", next.dataset);
    if (next.modelType) search.set("model_type", next.modelType);
    if (next.status) search.set("status", next.status);
    setParams(search, { replace: true });
  };
  const toggle = (id: string) =>
    setSelected((now) => (now.includes(id) ? now.filter((s) => s !== id) : [...now, id]));

  const all = runs.data;
  const options = useMemo(() => filterOptions(all ?? [], filters, datasetNames), [all, filters, datasetNames]);
  const shown = useMemo(() => (all ?? []).filter((run) => matches(run, filters)), [all, filters]);
  const metricKeys = useMemo(() => metricKeysOf(shown), [shown]);
  const filtered = filters.dataset !== "" || filters.modelType !== "" || filters.status !== "";

  return (
    <>
      <div className="page-header">
        <h1>Training runs</h1>
        {canEdit && (
          <Link to="/runs/new" className="button primary">
            New run
          </Link>
        )}
      </div>
      <RunFilters filters={filters} datasets={options.datasets} modelTypes={options.modelTypes} onChange={setFilters} />
      <CompareBar selected={selected} />
      <QueryState query={runs} label="Loading runs…">
        {() =>
          shown.length === 0 ? (
            filtered ? (
              <Empty title="No runs match these filters">
                <button type="button" onClick={() => setFilters(NO_FILTERS)}>
                  Clear filters
                </button>
              </Empty>
            ) : (
              <Empty title="No runs yet">
                {canEdit ? <Link to="/runs/new">Train a model</Link> : <p>An editor of this workspace can start one.</p>}
              </Empty>
            )
          ) : (
            <RunsTable
              runs={shown}
              metricKeys={metricKeys}
              datasetNames={datasetNames}
              selected={selected}
              onToggle={toggle}
            />
          )
        }
      </QueryState>
    </>
  );
}

function CompareBar({ selected }: { selected: string[] }) {
  const navigate = useNavigate();
  const hintId = useId();
  const count = selected.length;
  const ready = count >= MIN_COMPARE && count <= MAX_COMPARE;
  const hint =
    count > MAX_COMPARE
      ? `${count} selected: compare at most ${MAX_COMPARE} at once.`
      : `${count} selected${ready ? "." : `: select ${MIN_COMPARE} to ${MAX_COMPARE} runs to compare them.`}`;
  return (
    <div className="compare-bar">
      <button
        type="button"
        className="primary"
        disabled={!ready}
        aria-describedby={hintId}
        onClick={() => navigate(`/compare?runs=${selected.join(",")}`)}
      >
        Compare selected
      </button>
      <p id={hintId} role="status" className="field-help">
        {hint}
      </p>
    </div>
  );
}

function matches(run: Run, filters: Filters): boolean {
  const dataset = run.dataset ?? DELETED_DATASET;
  return (!filters.dataset || dataset === filters.dataset) && (!filters.modelType || run.model_type === filters.modelType);
}

/** The datasets and model types the runs use, plus whatever the address asks for. */
function filterOptions(runs: Run[], filters: Filters, names: ReadonlyMap<string, string> | undefined) {
  const datasetIds = new Set(runs.map((run) => run.dataset ?? DELETED_DATASET));
  if (filters.dataset) datasetIds.add(filters.dataset);
  const datasets = [...datasetIds]
    .map((value) => ({ value, label: datasetLabel(value === DELETED_DATASET ? null : value, names) }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const modelTypes = new Set(runs.map((run) => run.model_type));
  if (filters.modelType) modelTypes.add(filters.modelType);
  return { datasets, modelTypes: [...modelTypes].sort() };
}

/** Every metric any run reports, losses and accuracies in the usual order, then the rest. */
function metricKeysOf(runs: Run[]): string[] {
  const keys = new Set(runs.flatMap((run) => Object.keys(latestMetrics(run.latest_metrics))));
  const usual = ["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"].filter((k) => keys.has(k));
  return [...usual, ...[...keys].filter((k) => !usual.includes(k)).sort()];
}
