// How the model learned: the per-epoch (neural networks) or per-stage curves.
import { lazy, useMemo } from "react";
import { historySeries, historySummary } from "./history";
import { ChartFrame, NoData, ResultSection } from "./ResultSection";
import type { TrainingHistory } from "./types";

const HistoryChart = lazy(() => import("./HistoryChart"));

export function HistorySection({
  history,
  regression,
  neuralNetwork,
}: {
  history: TrainingHistory | null | undefined;
  regression: boolean;
  neuralNetwork: boolean;
}) {
  const series = useMemo(() => (history ? historySeries(history, regression) : []), [history, regression]);
  const unit = neuralNetwork ? "epoch" : "stage";
  return (
    <ResultSection title="Training history" wide>
      {!history || history.epochs.length === 0 || series.length === 0 ? (
        <NoData>No training history: the run finished no {unit}.</NoData>
      ) : (
        <figure className="results-figure">
          <ChartFrame>
            <HistoryChart
              epochs={history.epochs}
              series={series}
              xLabel={neuralNetwork ? "Epoch" : "Stage"}
              scoreLabel={regression ? "MAE" : "Accuracy"}
            />
          </ChartFrame>
          <figcaption>{historySummary(history, series, unit)}</figcaption>
        </figure>
      )}
    </ResultSection>
  );
}
