// The confusion matrix as a heatmap and as a table, in counts or normalised by the true
// class (each row sums to 100 %), at the operating threshold (what predict applies;
// shown first) or at 0.5.
import { lazy, useId, useState } from "react";
import { formatCount, formatLabel, formatNumber, formatShare } from "./format";
import { ChartFrame, NoData, ResultSection } from "./ResultSection";
import type { ConfusionMatrix, Threshold } from "./types";

const ConfusionHeatmap = lazy(() => import("./ConfusionHeatmap"));

export type ConfusionScale = "counts" | "normalised";

export function ConfusionSection({
  confusion,
  threshold,
}: {
  confusion: ConfusionMatrix | null;
  threshold: Threshold | null;
}) {
  const [scale, setScale] = useState<ConfusionScale>("counts");
  const [atOperatingPoint, setAtOperatingPoint] = useState(true);
  const shown = atOperatingPoint && threshold ? threshold.confusion_matrix : confusion;
  return (
    <ResultSection title="Confusion matrix">
      {!shown ? (
        <NoData>No confusion matrix: the run stopped before the model could be evaluated.</NoData>
      ) : (
        <>
          <div className="results-controls">
            <Choice
              legend="Show"
              value={scale}
              options={[
                ["counts", "Counts"],
                ["normalised", "Normalised"],
              ]}
              onChange={(value) => setScale(value as ConfusionScale)}
            />
            {threshold && (
              <Choice
                legend="Decision threshold"
                value={atOperatingPoint ? "operating" : "half"}
                options={[
                  ["operating", `${formatNumber(threshold.value)} (operating point)`],
                  ["half", "0.5"],
                ]}
                onChange={(value) => setAtOperatingPoint(value === "operating")}
              />
            )}
          </div>
          <ChartFrame>
            <ConfusionHeatmap confusion={shown} scale={scale} />
          </ChartFrame>
          <details className="results-details">
            <summary>Table</summary>
            <ConfusionTable confusion={shown} scale={scale} />
          </details>
        </>
      )}
    </ResultSection>
  );
}

/** A small radio group drawn as a segmented control. */
function Choice({
  legend,
  value,
  options,
  onChange,
}: {
  legend: string;
  value: string;
  options: [string, string][];
  onChange: (value: string) => void;
}) {
  const name = useId();
  return (
    <fieldset className="results-choice">
      <legend>{legend}</legend>
      {options.map(([option, text]) => (
        <label key={option}>
          <input
            type="radio"
            name={name}
            value={option}
            checked={value === option}
            onChange={() => onChange(option)}
          />
          <span>{text}</span>
        </label>
      ))}
    </fieldset>
  );
}

function ConfusionTable({ confusion, scale }: { confusion: ConfusionMatrix; scale: ConfusionScale }) {
  const values = scale === "counts" ? confusion.matrix : confusion.normalized;
  const show = scale === "counts" ? formatCount : formatShare;
  return (
    <table className="results-table">
      <caption>
        {scale === "counts" ? "Test rows" : "Share of each true class"}: rows are the true class, columns the
        predicted class
      </caption>
      <thead>
        <tr>
          <td />
          {confusion.labels.map((label) => (
            <th key={String(label)} scope="col" className="num">
              Predicted {formatLabel(label)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {confusion.labels.map((label, row) => (
          <tr key={String(label)}>
            <th scope="row">True {formatLabel(label)}</th>
            {values[row].map((value, column) => (
              <td key={column} className="num">
                {show(value)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
