// The training curves (uPlot): loss on the left axis, accuracy or MAE on the right;
// validation dashed. uPlot draws tens of thousands of points in milliseconds.
import { useMemo } from "react";
import type uPlot from "uplot";
import { UPlotChart } from "@/components/charts/UPlotChart";
import { seriesColour, useChartTheme, type ChartTheme } from "@/components/charts/chartTheme";
import type { HistorySeries } from "./history";

interface HistoryChartProps {
  epochs: number[];
  series: HistorySeries[];
  xLabel: string;
  scoreLabel: string;
}

export default function HistoryChart({ epochs, series, xLabel, scoreLabel }: HistoryChartProps) {
  const theme = useChartTheme();
  const options = useMemo(() => historyOptions(series, xLabel, scoreLabel, theme), [series, xLabel, scoreLabel, theme]);
  const data = useMemo(
    () => [epochs, ...series.map((entry) => entry.values)] as uPlot.AlignedData,
    [epochs, series],
  );
  return <UPlotChart options={options} data={data} label="Training history" height={300} />;
}

function historyOptions(series: HistorySeries[], xLabel: string, scoreLabel: string, theme: ChartTheme) {
  const axis = (label: string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis => ({
    label,
    stroke: theme.text,
    grid: { stroke: theme.border, width: 1 },
    ticks: { stroke: theme.border, width: 1 },
    ...extra,
  });
  const hasScore = series.some((entry) => entry.scale === "score");
  return {
    scales: { x: { time: false } },
    axes: [
      axis(xLabel),
      axis("Loss", { scale: "loss" }),
      ...(hasScore ? [axis(scoreLabel, { scale: "score", side: 1, grid: { show: false } })] : []),
    ],
    series: [
      { label: xLabel },
      ...series.map((entry) => ({
        label: entry.label,
        scale: entry.scale,
        stroke: seriesColour(entry.scale === "loss" ? 0 : 2),
        width: 2,
        dash: entry.validation ? [8, 4] : undefined,
        spanGaps: true,
        value: (_: uPlot, value: number | null) => (value === null ? "—" : value.toPrecision(4)),
      })),
    ],
  } satisfies Omit<uPlot.Options, "width" | "height">;
}
