// A finished run's results: metrics first, then the classifier's views (confusion,
// ROC, precision-recall, calibration), what the model relies on, how it fares per
// subgroup, and its graph (how it learned is the run page's curves). Chart code loads on
// demand, section by section.
import { ApiError } from "@/api/client";
import { ErrorState, Loading } from "@/components/states";
import { ConfusionSection } from "./ConfusionSection";
import { ExcludedColumnsSection } from "./ExcludedColumnsSection";
import { CalibrationSection, PrSection, RocSection } from "./CurveSections";
import { FeatureImportanceSection } from "./FeatureImportanceSection";
import { GraphSection } from "./GraphSection";
import { MetricsSection } from "./MetricsSection";
import { useRunGraph, useRunResults } from "./queries";
import { SubgroupsSection } from "./SubgroupsSection";
import type { Label, RunResultsPayload } from "./types";
import "./results.css";

export function RunResults({ runId }: { runId: string }) {
  const results = useRunResults(runId);
  const graph = useRunGraph(runId);

  if (results.isPending) return <Loading label="Loading results…" />;
  if (results.error) {
    if (results.error instanceof ApiError && results.error.status === 409) {
      return <NotFinished message={results.error.message} />;
    }
    return <ErrorState error={results.error} retry={() => void results.refetch()} />;
  }
  const data = results.data;
  const classification = isClassification(data);
  const positiveClass = positiveClassOf(data);
  return (
    <div className="results">
      <MetricsSection
        metrics={data.metrics}
        classification={classification}
        threshold={data.threshold}
        positiveClass={positiveClass}
      />
      {classification && (
        <>
          <ConfusionSection confusion={data.confusion_matrix} threshold={data.threshold} />
          <RocSection roc={data.roc_curve} positiveClass={positiveClass} />
          <PrSection pr={data.pr_curve} positiveClass={positiveClass} />
          {data.calibration && <CalibrationSection calibration={data.calibration} positiveClass={positiveClass} />}
        </>
      )}
      <FeatureImportanceSection importance={data.feature_importance} />
      <ExcludedColumnsSection excluded={data.excluded_columns} />
      {data.subgroup_metrics && <SubgroupsSection subgroups={data.subgroup_metrics} />}
      <GraphSection query={graph} />
    </div>
  );
}

/** 409: the run is still going, or it failed or stopped without results. */
function NotFinished({ message }: { message: string }) {
  return (
    <div role="status" className="state state-empty">
      <h2>No results yet</h2>
      <p>This run has not finished, so there are no results to show. They appear here when it does.</p>
      {message && <p className="results-aside">The server said: {message}</p>}
    </div>
  );
}

function isClassification(data: RunResultsPayload): boolean {
  if (data.model.task) return data.model.task === "classification";
  return data.confusion_matrix !== null || data.metrics.accuracy !== undefined;
}

/** The positive class of a binary classifier, wherever the engine recorded it. */
function positiveClassOf(data: RunResultsPayload): Label | undefined {
  return (
    data.threshold?.positive_class ??
    data.roc_curve?.positive_class ??
    data.pr_curve?.positive_class ??
    data.calibration?.positive_class
  );
}
