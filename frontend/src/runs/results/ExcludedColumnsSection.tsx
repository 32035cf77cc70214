// Every column the run left out of its features, with the reason the run recorded:
// nothing is dropped in secret.
import { NoData, ResultSection } from "./ResultSection";
import type { RunResultsPayload } from "./types";

export function ExcludedColumnsSection({ excluded }: { excluded: RunResultsPayload["excluded_columns"] }) {
  return (
    <ResultSection title="Columns left out">
      {excluded.length === 0 ? (
        <NoData>None: every column but the target was a feature.</NoData>
      ) : (
        <table aria-label="Columns left out" className="results-table">
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {excluded.map((column) => (
              <tr key={column.name}>
                <th scope="row">{column.name}</th>
                <td>{column.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </ResultSection>
  );
}
