// Every metric of the run on its test split. Binary classifiers are measured at two
// decision thresholds: 0.5 (what `predict` does) and the cut-off tuned on the
// validation rows (Youden's J), which the registered model applies.
import { formatCount, formatLabel, formatNumber, metricRows, type MetricRow } from "./format";
import { NoData, ResultSection } from "./ResultSection";
import type { Label, Metrics, Threshold } from "./types";

export function MetricsSection({
  metrics,
  classification,
  threshold,
  positiveClass,
}: {
  metrics: Metrics;
  classification: boolean;
  threshold: Threshold | null;
  positiveClass: Label | undefined;
}) {
  const rows = metricRows(metrics, { classification, tuned: threshold?.metrics });
  return (
    <ResultSection title="Metrics" wide>
      {positiveClass !== undefined && <p className="results-fact">Positive class: {formatLabel(positiveClass)}</p>}
      {threshold && <ThresholdNote threshold={threshold} />}
      {rows.length === 0 ? (
        <NoData>No metrics: the run stopped before its first epoch or stage finished.</NoData>
      ) : (
        <MetricsTable rows={rows} threshold={threshold} />
      )}
      {metrics.per_class && Object.keys(metrics.per_class).length > 0 && (
        <PerClassTable perClass={metrics.per_class} />
      )}
    </ResultSection>
  );
}

function ThresholdNote({ threshold }: { threshold: Threshold }) {
  return (
    <p className="results-fact">
      Decision threshold: {formatNumber(threshold.value)} (predict {formatLabel(threshold.positive_class)} when its
      probability is at least this), chosen by Youden&rsquo;s J (sensitivity + specificity − 1) on the{" "}
      {threshold.chosen_on} rows
      {threshold.validation_youden_j !== null && <>, J = {formatNumber(threshold.validation_youden_j)}</>}.
    </p>
  );
}

function MetricsTable({ rows, threshold }: { rows: MetricRow[]; threshold: Threshold | null }) {
  return (
    <table aria-label="Metrics" className="results-table">
      <thead>
        <tr>
          <th scope="col">Metric</th>
          {threshold ? (
            <>
              <th scope="col" className="num">
                At threshold 0.5
              </th>
              <th scope="col" className="num">
                At threshold {formatNumber(threshold.value)} (tuned)
              </th>
            </>
          ) : (
            <th scope="col" className="num">
              Value
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const show = row.count ? formatCount : formatNumber;
          return (
            <tr key={row.key}>
              <th scope="row">{row.name}</th>
              {!threshold ? (
                <td className="num">{show(row.value)}</td>
              ) : row.thresholdFree ? (
                <td className="num" colSpan={2}>
                  {show(row.value)} <span className="results-aside">(any threshold)</span>
                </td>
              ) : (
                <>
                  <td className="num">{show(row.value)}</td>
                  <td className="num">{row.tuned === undefined ? "not measured" : show(row.tuned)}</td>
                </>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function PerClassTable({ perClass }: { perClass: NonNullable<Metrics["per_class"]> }) {
  return (
    <table aria-label="Per-class metrics" className="results-table">
      <thead>
        <tr>
          <th scope="col">Class</th>
          <th scope="col" className="num">
            Precision
          </th>
          <th scope="col" className="num">
            Recall
          </th>
          <th scope="col" className="num">
            F1
          </th>
          <th scope="col" className="num">
            Support
          </th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(perClass).map(([label, scores]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td className="num">{formatNumber(scores.precision)}</td>
            <td className="num">{formatNumber(scores.recall)}</td>
            <td className="num">{formatNumber(scores.f1)}</td>
            <td className="num">{formatCount(scores.support)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
