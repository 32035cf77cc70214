// Which columns the model leans on: the 20 strongest as bars, all of them in a table.
import { lazy } from "react";
import { formatCount, formatNumber } from "./format";
import { ChartFrame, NoData, ResultSection } from "./ResultSection";
import type { FeatureImportance } from "./types";

const ImportanceBars = lazy(() => import("./ImportanceBars"));

export const TOP_FEATURES = 20;

export function methodText(importance: FeatureImportance): string {
  switch (importance.method) {
    case "permutation":
      return `Permutation importance: the drop in ${
        importance.scoring === "r2" ? "R²" : "accuracy"
      } when a column's values are shuffled${
        importance.n_rows ? `, on ${formatCount(importance.n_rows)} test rows` : ""
      }.`;
    case "impurity":
      return "Native importance of the trees: impurity decrease, summed over each column's encoded features.";
    case "coefficient":
      return "Native importance of the linear model: mean absolute coefficient on standardised features, summed over each column's encoded features.";
    default:
      return `Method: ${String(importance.method)}.`;
  }
}

/** The features by decreasing score (the engine sends them sorted; this does not rely on it). */
export function rankedFeatures(importance: FeatureImportance): { feature: string; score: number | null }[] {
  return importance.features
    .map((feature, index) => ({ feature, score: importance.scores[index] ?? null }))
    .sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
}

export function FeatureImportanceSection({ importance }: { importance: FeatureImportance | null }) {
  const ranked = importance ? rankedFeatures(importance) : [];
  return (
    <ResultSection title="Feature importance">
      {!importance || ranked.length === 0 ? (
        <NoData>No feature importance for this run.</NoData>
      ) : (
        <>
          <p className="results-fact">{methodText(importance)}</p>
          <ChartFrame>
            <ImportanceBars ranked={ranked.slice(0, TOP_FEATURES)} />
          </ChartFrame>
          <details className="results-details">
            <summary>Table</summary>
            <table aria-label="Feature importance table" className="results-table">
              <thead>
                <tr>
                  <th scope="col">Feature</th>
                  <th scope="col" className="num">
                    Importance
                  </th>
                </tr>
              </thead>
              <tbody>
                {ranked.map(({ feature, score }) => (
                  <tr key={feature}>
                    <th scope="row">{feature}</th>
                    <td className="num">{formatNumber(score)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </ResultSection>
  );
}
