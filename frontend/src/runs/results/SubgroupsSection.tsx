// The main test metrics within each value of the group column: where the model serves
// one group of patients worse than another.
import { formatCount, formatLabel, formatNumber } from "./format";
import { ResultSection } from "./ResultSection";
import type { Subgroup, SubgroupMetrics } from "./types";

const COLUMNS: [keyof Subgroup, string][] = [
  ["sensitivity", "Sensitivity"],
  ["specificity", "Specificity"],
  ["roc_auc", "ROC AUC"],
  ["balanced_accuracy", "Balanced accuracy"],
  ["accuracy", "Accuracy"],
  ["f1_macro", "F1 (macro)"],
  ["r2", "R²"],
  ["mae", "MAE"],
  ["rmse", "RMSE"],
];

export function SubgroupsSection({ subgroups }: { subgroups: SubgroupMetrics }) {
  // Only the metrics the engine measured for this task (binary ones for binary targets).
  const columns = COLUMNS.filter(([key]) => subgroups.groups.some((group) => group[key] !== undefined));
  return (
    <ResultSection title="Subgroups" wide>
      <p className="results-fact">
        Test metrics by <strong>{subgroups.column}</strong>
        {subgroups.omitted_groups > 0 &&
          `; the ${subgroups.groups.length} most frequent values are shown, ${formatCount(
            subgroups.omitted_groups,
          )} rarer ones are left out`}
        .
      </p>
      <div className="results-scroll">
        <table aria-label="Subgroup metrics" className="results-table">
          <thead>
            <tr>
              <th scope="col">{subgroups.column}</th>
              <th scope="col" className="num">
                n
              </th>
              {columns.map(([key, name]) => (
                <th key={key} scope="col" className="num">
                  {name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {subgroups.groups.map((group, index) => (
              <tr key={index}>
                <th scope="row">{formatLabel(group.value)}</th>
                <td className="num">{formatCount(group.n)}</td>
                {columns.map(([key]) => (
                  <td key={key} className="num">
                    {formatNumber(group[key] as number | null | undefined)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </ResultSection>
  );
}
