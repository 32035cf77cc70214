// /runs/{id}: a run live (status, progress, curves over /ws/training/{id}), then its
// results. A run that has finished with results draws its curves from them (one stored
// document) and opens no stream; a run watched live keeps its streamed curves to the end.
import { lazy, Suspense, useEffect, useId, useState, useSyncExternalStore } from "react";
import { Link, useParams } from "react-router";
import { Loading, QueryState } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { humanize } from "./format";
import type { CurveStore } from "./live/curveStore";
import { LiveCurves } from "./live/LiveCurves";
import { historyPoints } from "./live/historyPoints";
import { useTrainingStream, type Connection } from "./live/useTrainingStream";
import { useDatasetDetail, useRun, useStopRun, type Run } from "./queries";
import { useRunResults } from "./results/queries";
import "./runs.css";

const RunResults = lazy(() =>
  import("@/runs/results/RunResults").then((module) => ({ default: module.RunResults })),
);

const ACTIVE = new Set<Run["status"]>(["queued", "running", "stopping"]);

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

export default function RunPage() {
  const { id = "" } = useParams();
  const run = useRun(id);
  // Once opened, the stream stays for the page's life: a run that finishes while watched
  // keeps the curve it streamed.
  const [streamed, setStreamed] = useState(false);
  if (run.data && !hasResults(run.data) && !streamed) setStreamed(true);
  const stream = useTrainingStream(id, streamed);
  useTitle(run.data ? runTitle(run.data) : "Training run");
  if (!run.data) {
    return (
      <>
        <h1>Training run</h1>
        <QueryState query={run} label="Loading the run…">
          {() => null}
        </QueryState>
      </>
    );
  }
  return (
    <RunView run={run.data} curves={stream.curves} connection={stream.connection} streamed={streamed} />
  );
}

/** Whether the run has results: it succeeded, or it was stopped with a model kept. */
function hasResults(run: Run): boolean {
  return run.status === "succeeded" || (run.status === "stopped" && run.model !== null);
}

function runTitle(run: Run): string {
  return run.name || humanize(run.model_type);
}

function RunView({
  run,
  curves,
  connection,
  streamed,
}: {
  run: Run;
  curves: CurveStore;
  connection: Connection;
  streamed: boolean;
}) {
  const curvesHeading = useId();
  const active = ACTIVE.has(run.status);
  const finished = hasResults(run);
  const results = useRunResults(run.id, finished && !streamed);
  const storedHistory = results.data?.training_history;

  // A finished run's curve is its stored history, drawn whole at once.
  useEffect(() => {
    if (!streamed && storedHistory) curves.replace(historyPoints(storedHistory));
  }, [curves, streamed, storedHistory]);

  // Before its first epoch, the task says which metric the second chart will show.
  useEffect(() => {
    if (run.task === "regression") curves.hint("mae");
    else if (run.task === "classification") curves.hint("accuracy");
  }, [curves, run.task]);

  return (
    <>
      <div className="page-header">
        <h1>{runTitle(run)}</h1>
        <div className="run-header-actions">
          <Link to={`/compare?runs=${run.id}`} className="button">
            Compare with…
          </Link>
          {active && <StopButton run={run} />}
        </div>
      </div>

      <div className="run-status-line">
        <p role="status" className="run-status">
          Status: <span className={`badge status-${run.status}`}>{run.status}</span>
        </p>
        {active && <span className="run-connection">{CONNECTION_TEXT[connection]}</span>}
      </div>
      <RunProgress run={run} curves={curves} />
      <RunSummary run={run} />

      {run.status === "failed" && (
        <div role="alert" className="state state-error">
          <h2>Training failed</h2>
          <p>{run.error || "The run failed without a recorded reason."}</p>
        </div>
      )}
      {run.status === "stopped" && !finished && (
        <p className="card">This run was stopped before it had any results.</p>
      )}

      <section aria-labelledby={curvesHeading}>
        <h2 id={curvesHeading}>Training curves</h2>
        <LiveCurves curves={curves} />
      </section>

      {finished && (
        <Suspense fallback={<Loading label="Loading results…" />}>
          <RunResults runId={run.id} />
        </Suspense>
      )}
    </>
  );
}

function StopButton({ run }: { run: Run }) {
  const { canEdit } = useWorkspace();
  const stop = useStopRun(run.id);
  if (!canEdit) return null;
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={stop.isPending || run.status === "stopping"}
        onClick={() => stop.mutate()}
      >
        Stop run
      </button>
      {stop.error && (
        <p role="alert" className="error">
          Could not stop the run: {stop.error.message}
        </p>
      )}
    </>
  );
}

/** "Epoch n of N": the stream's latest epoch, which runs ahead of the run's own record. */
function RunProgress({ run, curves }: { run: Run; curves: CurveStore }) {
  const textId = useId();
  const { latest } = useSyncExternalStore(curves.subscribe, curves.getSummary);
  const total = run.progress.total_epochs;
  const epoch = Math.max(latest?.epoch ?? 0, run.progress.epoch ?? 0) || null;
  const finished = run.status === "succeeded";
  let text: string;
  if (run.status === "queued") text = "Waiting for a worker";
  else if (epoch === null) text = ACTIVE.has(run.status) ? "Starting" : "No epochs";
  else text = total ? `Epoch ${epoch} of ${total}` : `Epoch ${epoch}`;
  const max = total ?? 1;
  const value = finished ? max : epoch !== null && total ? Math.min(epoch, total) : undefined;
  return (
    <div className="run-progress">
      <progress aria-label="Training progress" aria-describedby={textId} max={max} value={value} />
      <span id={textId} className="num">
        {text}
      </span>
    </div>
  );
}

function RunSummary({ run }: { run: Run }) {
  const dataset = useDatasetDetail(run.dataset ?? "");
  return (
    <dl className="run-summary card">
      <div>
        <dt>Dataset</dt>
        <dd>
          {run.dataset === null ? (
            "Deleted"
          ) : (
            <Link to={`/datasets/${run.dataset}`}>{dataset.data?.name ?? "Open dataset"}</Link>
          )}
        </dd>
      </div>
      <div>
        <dt>Target</dt>
        <dd>{run.target}</dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd>{humanize(run.model_type)}</dd>
      </div>
      <div>
        <dt>Task</dt>
        <dd>{run.task ? humanize(run.task) : "From the target"}</dd>
      </div>
      <div>
        <dt>Started by</dt>
        <dd>{run.created_by}</dd>
      </div>
    </dl>
  );
}
