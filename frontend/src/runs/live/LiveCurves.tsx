// The run's loss and accuracy (or MAE) curves, train and validation, drawn by uPlot from
// the CurveStore; React renders these charts once and only the text summaries per frame.
import { useMemo, useSyncExternalStore } from "react";
import type uPlot from "uplot";
import { type ChartTheme, useChartTheme } from "@/components/charts/chartTheme";
import { SERIES_COLOURS, UPlotChart } from "@/components/charts/UPlotChart";
import type { CurveMetric, CurveStore } from "./curveStore";

export const METRIC_LABELS: Record<CurveMetric, string> = {
  accuracy: "Accuracy",
  mae: "Mean absolute error",
};

/** The charts start empty; the store feeds them through setData. */
const EMPTY: uPlot.AlignedData = [[], [], []];

export function LiveCurves({ curves }: { curves: CurveStore }) {
  const summary = useSyncExternalStore(curves.subscribe, curves.getSummary);
  const colours = useChartTheme();
  const metricLabel = METRIC_LABELS[summary.metric];
  const lossOptions = useMemo(() => curveOptions(curves, "Loss", colours), [curves, colours]);
  const metricOptions = useMemo(
    () => curveOptions(curves, metricLabel, colours),
    [curves, metricLabel, colours],
  );
  const latest = summary.latest;
  const metric = summary.metric;
  return (
    <div className="run-curves">
      <CurveFigure
        title="Loss"
        options={lossOptions}
        onCreate={(chart) => curves.attach(chart, "loss")}
        summary={latest && describe(latest.epoch, latest.loss, latest.val_loss)}
      />
      <CurveFigure
        title={metricLabel}
        options={metricOptions}
        onCreate={(chart) => curves.attach(chart, "metric")}
        summary={latest && describe(latest.epoch, latest[metric], latest[`val_${metric}`])}
      />
    </div>
  );
}

function CurveFigure({
  title,
  options,
  onCreate,
  summary,
}: {
  title: string;
  options: Omit<uPlot.Options, "width" | "height">;
  onCreate: (chart: uPlot) => void;
  summary: string | null;
}) {
  return (
    <figure className="card run-curve">
      <figcaption>
        <h3>{title}</h3>
      </figcaption>
      <UPlotChart options={options} data={EMPTY} label={title} height={260} onCreate={onCreate} />
      <p className="visually-hidden">{summary ?? "No epochs yet."}</p>
    </figure>
  );
}

function describe(epoch: number, train: number | null | undefined, validation: number | null | undefined) {
  return `Epoch ${epoch}: train ${format(train)}, validation ${format(validation)}.`;
}

function format(value: number | null | undefined) {
  return value === null || value === undefined ? "none" : value.toPrecision(4);
}

function curveOptions(
  curves: CurveStore,
  label: string,
  colours: ChartTheme,
): Omit<uPlot.Options, "width" | "height"> {
  const axis = (axisLabel: string): uPlot.Axis => ({
    label: axisLabel,
    stroke: colours.text,
    grid: { stroke: colours.border, width: 1 },
    ticks: { stroke: colours.border, width: 1 },
  });
  const value = (_: uPlot, v: number | null) => (v === null ? "—" : v.toPrecision(4));
  return {
    scales: { x: { time: false } },
    axes: [axis("Epoch"), axis(label)],
    series: [
      { label: "Epoch" },
      { label: "Train", stroke: SERIES_COLOURS[0], width: 2, spanGaps: true, points: { show: false }, value },
      {
        label: "Validation",
        stroke: SERIES_COLOURS[1],
        width: 2,
        dash: [8, 4],
        spanGaps: true,
        points: { show: false },
        value,
      },
    ],
    hooks: {
      draw: [(chart) => curves.drawn(chart)],
      destroy: [(chart) => curves.detach(chart)],
    },
  };
}
