// /compare?runs=a,b,...: two to six runs side by side — configuration with the
// differences marked, validation curves overlaid, and every metric in one table.
import { useId } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { isNotFound } from "@/api/client";
import { ErrorState, Loading } from "@/components/states";
import { useTitle } from "@/components/useTitle";
import { isActive, useDatasetNames, type Run } from "@/runs/list/runData";
import { CompareCurves } from "./CompareCurves";
import { MAX_RUNS, parseRunIds } from "./compareData";
import { ConfigTable } from "./ConfigTable";
import { MetricsTable } from "./MetricsTable";
import { RunPicker } from "./RunPicker";
import { useComparison } from "./useComparison";
import "./compare.css";

export default function ComparePage() {
  useTitle("Compare runs");
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const requested = parseRunIds(params.get("runs"));
  const ids = requested.slice(0, MAX_RUNS);
  // Ids are UUIDs: the commas stay readable in the address.
  const choose = (next: string[]) =>
    navigate({ search: next.length ? `?runs=${next.join(",")}` : "" }, { replace: true });

  return (
    <>
      <h1>Compare runs</h1>
      {requested.length > MAX_RUNS && (
        <p role="alert" className="compare-notice">
          {requested.length} runs were asked for, but at most {MAX_RUNS} can be compared at once: showing the first{" "}
          {MAX_RUNS}.
        </p>
      )}
      {ids.length < 2 && (
        <p>Choose two to {MAX_RUNS} runs below to see their configurations, curves and metrics side by side.</p>
      )}
      {/* Stays in place as runs are ticked, so focus never jumps when the comparison appears. */}
      <RunPicker selected={ids} onChange={choose} />
      {ids.length >= 2 && <Comparison ids={ids} onRemove={(gone) => choose(ids.filter((id) => !gone.includes(id)))} />}
    </>
  );
}

function Comparison({ ids, onRemove }: { ids: string[]; onRemove: (ids: string[]) => void }) {
  const { runs, histories, results } = useComparison(ids);
  const datasetNames = useDatasetNames().data;

  if (runs.some((q) => q.isPending)) return <Loading label="Loading the runs…" />;
  const failed = runs.find((q) => q.error && !isNotFound(q.error));
  if (failed) return <ErrorState error={failed.error} retry={() => runs.forEach((q) => void q.refetch())} />;

  const missing = ids.filter((_, i) => isNotFound(runs[i].error));
  const present = ids.flatMap((_, i) => (runs[i].data ? [i] : []));
  const found = present.map((i) => runs[i].data as Run);
  const training = found.filter((run) => isActive(run.status)).length;

  return (
    <>
      {missing.length > 0 && <MissingRuns ids={missing} onRemove={() => onRemove(missing)} />}
      {found.length < 2 ? (
        <p>At least two runs that exist are needed for a comparison: choose more above.</p>
      ) : (
        <>
          <p role="status" className="field-help">
            {training > 0 && `${training} of these runs ${training === 1 ? "is" : "are"} still training; this page updates every 3 s.`}
          </p>
          <Section title="Configuration">
            <ConfigTable runs={found} datasetNames={datasetNames} />
          </Section>
          <Section title="Curves">
            <Curves runs={found} queries={present.map((i) => histories[i])} />
          </Section>
          <Section title="Metrics">
            <Metrics runs={found} queries={present.map((i) => results[i])} />
          </Section>
        </>
      )}
    </>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="compare-section">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function MissingRuns({ ids, onRemove }: { ids: string[]; onRemove: () => void }) {
  return (
    <div role="alert" className="state state-error">
      <h2>Not found</h2>
      <p>
        {ids.length === 1
          ? "This run does not exist, or belongs to a workspace you are not in:"
          : "These runs do not exist, or belong to a workspace you are not in:"}
      </p>
      <ul>
        {ids.map((id) => (
          <li key={id}>
            <code>{id}</code>
          </li>
        ))}
      </ul>
      <button type="button" onClick={onRemove}>
        Remove from the comparison
      </button>
    </div>
  );
}

type Queries = ReturnType<typeof useComparison>;

function Curves({ runs, queries }: { runs: Run[]; queries: Queries["histories"] }) {
  const failed = queries.find((q) => q.error);
  if (failed) return <ErrorState error={failed.error} retry={() => void failed.refetch()} />;
  const histories = queries.flatMap((q) => (q.data ? [q.data] : []));
  if (histories.length < queries.length) return <Loading label="Loading the curves…" />;
  return <CompareCurves runs={runs} histories={histories} />;
}

/** Results exist only for finished runs; the others' queries never run (not loading). */
function Metrics({ runs, queries }: { runs: Run[]; queries: Queries["results"] }) {
  if (queries.some((q) => q.isLoading)) return <Loading label="Loading the metrics…" />;
  const failed = queries.find((q) => q.error);
  if (failed) return <ErrorState error={failed.error} retry={() => void failed.refetch()} />;
  return <MetricsTable runs={runs} results={queries.map((q) => q.data?.metrics)} />;
}
