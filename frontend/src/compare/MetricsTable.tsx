// Every metric of the runs in one table, the best value of each row in bold and named
// "best" for screen readers (higher is better, except losses and errors).
import { formatMetric } from "@/runs/list/metrics";
import type { Run } from "@/runs/list/runData";
import { metricRows } from "./compareData";
import { RunHeader } from "./RunHeader";

export function MetricsTable({ runs, results }: { runs: Run[]; results: (Record<string, unknown> | null | undefined)[] }) {
  const rows = metricRows(runs, results);
  if (rows.length === 0) {
    return <p>No metrics yet: runs report them after their first epoch, and in full when they finish.</p>;
  }
  return (
    <>
      <div className="compare-table-wrap">
        <table aria-label="Metrics by run" className="compare-table metrics-table">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              {runs.map((run, i) => (
                <RunHeader key={run.id} run={run} index={i} />
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.label}>
                <th scope="row">{row.label}</th>
                {row.values.map((value, i) =>
                  row.best.has(i) ? (
                    <td key={runs[i].id} className="num best">
                      <strong>{formatMetric(value)}</strong> <span className="visually-hidden">(best)</span>
                    </td>
                  ) : (
                    <td key={runs[i].id} className="num">
                      {formatMetric(value)}
                    </td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="field-help">
        Test-split metrics come from each finished run’s results; “last epoch” rows are the final training and
        validation values. Bold marks the best value of a row.
      </p>
    </>
  );
}
