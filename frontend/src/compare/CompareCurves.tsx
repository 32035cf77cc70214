// Validation curves of every run on one chart each, x = epoch. Runs of different
// lengths share one epoch axis with gaps (null) where a run has no value.
import { useMemo } from "react";
import type uPlot from "uplot";
import type { Schemas } from "@/api/client";
import { type ChartTheme, useChartTheme } from "@/components/charts/chartTheme";
import { UPlotChart } from "@/components/charts/UPlotChart";
import { formatMetric } from "@/runs/list/metrics";
import { runLabel, type Run } from "@/runs/list/runData";
import { alignByEpoch, type Curve } from "./compareData";
import { runColour } from "./RunHeader";

type History = Schemas["MetricsHistory"];

function chartOptions(
  names: string[],
  yLabel: string,
  theme: ChartTheme,
): Omit<uPlot.Options, "width" | "height"> {
  // Canvas text takes no CSS: the theme's colours keep both themes legible.
  const axis = {
    stroke: theme.text,
    grid: { stroke: theme.border, width: 1 },
    ticks: { stroke: theme.border, width: 1 },
  };
  return {
    scales: { x: { time: false } },
    axes: [
      { ...axis, label: "Epoch" },
      { ...axis, label: yLabel, size: 60 },
    ],
    series: [
      { label: "Epoch" },
      ...names.map((name, i) => ({ label: name, stroke: runColour(i), width: 2, spanGaps: false })),
    ],
  };
}

/** The last value of each run in words: what the chart shows, for a screen reader. */
function summary(names: string[], curves: Curve[]): string {
  return names
    .map((name, i) => {
      const { epochs, values } = curves[i];
      for (let at = values.length - 1; at >= 0; at -= 1) {
        const value = values[at];
        if (value !== null) return `${name}: ${formatMetric(value)} at epoch ${epochs[at]}`;
      }
      return `${name}: no value yet`;
    })
    .join("; ");
}

function CurveChart({ title, label, names, curves }: { title: string; label: string; names: string[]; curves: Curve[] }) {
  // The chart is remade only when the runs change, not on every poll.
  const key = names.join("\u0000");
  const theme = useChartTheme();
  const options = useMemo(() => chartOptions(key.split("\u0000"), title, theme), [key, title, theme]);
  return (
    <div className="curve">
      <h3>{title}</h3>
      <UPlotChart options={options} data={alignByEpoch(curves)} label={label} />
      <p className="field-help">Last values — {summary(names, curves)}.</p>
    </div>
  );
}

export function CompareCurves({ runs, histories }: { runs: Run[]; histories: History[] }) {
  const names = runs.map(runLabel);
  const loss = histories.map((h) => ({ epochs: h.epochs, values: h.val_loss }));
  const score = histories.map((h) => ({ epochs: h.epochs, values: h.val_accuracy }));
  if (histories.every((h) => h.epochs.length === 0)) {
    return <p>No epochs recorded yet for these runs.</p>;
  }
  // Regression runs report the mean absolute error where classifiers report accuracy.
  const tasks = new Set(runs.map((run) => run.task));
  const scoreTitle =
    tasks.size > 1 ? "Validation accuracy or MAE" : tasks.has("regression") ? "Validation MAE" : "Validation accuracy";
  return (
    <div className="curves">
      <CurveChart title="Validation loss" label="Validation loss, all runs" names={names} curves={loss} />
      <CurveChart title={scoreTitle} label="Validation accuracy, all runs" names={names} curves={score} />
    </div>
  );
}
