// Every metric of the run on its test split. Binary classifiers are measured at two
// decision thresholds: 0.5 and the operating point, which the registered model applies
// in predict, chosen by the run's rule on out-of-fold predictions over the training
// rows. With them: 95% bootstrap intervals and, when asked for, k-fold cross-validation.
import {
  formatCount,
  formatLabel,
  formatNumber,
  metricName,
  metricRows,
  ruleText,
  type MetricRow,
} from "./format";
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
      {metrics.confidence_intervals && <IntervalsTable intervals={metrics.confidence_intervals} />}
      {metrics.cross_validation && <CrossValidationTable cv={metrics.cross_validation} />}
      {metrics.per_class && Object.keys(metrics.per_class).length > 0 && (
        <PerClassTable perClass={metrics.per_class} />
      )}
    </ResultSection>
  );
}

function ThresholdNote({ threshold }: { threshold: Threshold }) {
  const where =
    threshold.chosen_on === "out_of_fold"
      ? ` on out-of-fold predictions over ${formatCount(threshold.n_rows)} training rows (${threshold.cv_folds} folds)`
      : threshold.chosen_on === "fixed"
        ? ""
        : ` on the ${threshold.chosen_on} rows`;
  return (
    <p className="results-fact">
      Operating threshold: {formatNumber(threshold.value)} (predict {formatLabel(threshold.positive_class)} when its
      probability is at least this, as the registered model does), chosen by {ruleText(threshold.rule)}
      {where}
      {threshold.oof_sensitivity !== null && threshold.oof_specificity !== null && (
        <>
          ; there, sensitivity {formatNumber(threshold.oof_sensitivity)} and specificity{" "}
          {formatNumber(threshold.oof_specificity)}
        </>
      )}
      .
    </p>
  );
}

type Intervals = NonNullable<Metrics["confidence_intervals"]>;
type CrossValidation = NonNullable<Metrics["cross_validation"]>;

function IntervalsTable({ intervals }: { intervals: Intervals }) {
  const level = Math.round(intervals.level * 100);
  return (
    <PerMetricTable
      label={`${level}% confidence intervals`}
      caption={`${level}% confidence intervals: ${formatCount(intervals.resamples)} stratified bootstrap resamples of the test rows, at threshold ${formatNumber(intervals.threshold)}`}
      columns={["Estimate", `${level}% interval`]}
      rows={Object.entries(intervals.metrics).map(([key, interval]) => [
        key,
        [formatNumber(interval.estimate), `${formatNumber(interval.lower)} to ${formatNumber(interval.upper)}`],
      ])}
    />
  );
}

function CrossValidationTable({ cv }: { cv: CrossValidation }) {
  return (
    <PerMetricTable
      label="Cross-validation"
      caption={`${cv.folds}-fold cross-validation over ${formatCount(cv.n_rows)} training rows`}
      columns={["Mean", "Standard deviation"]}
      rows={Object.entries(cv.metrics).map(([key, summary]) => [
        key,
        [formatNumber(summary.mean), formatNumber(summary.std)],
      ])}
    />
  );
}

/** One row per metric, by its readable name, with already formatted cells. */
function PerMetricTable({
  label,
  caption,
  columns,
  rows,
}: {
  label: string;
  caption: string;
  columns: string[];
  rows: [string, string[]][];
}) {
  return (
    <table aria-label={label} className="results-table">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          {columns.map((column) => (
            <th key={column} scope="col" className="num">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([key, cells]) => (
          <tr key={key}>
            <th scope="row">{metricName(key)}</th>
            {cells.map((cell, index) => (
              <td key={index} className="num">
                {cell}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
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
                At threshold {formatNumber(threshold.value)} (operating point)
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
