// ROC, precision-recall and calibration charts: uPlot in faceted mode, where every
// series has its own x values (curves of different classes share no x grid, and a
// precision-recall curve runs right to left). Both axes span 0 to 1.
import { useMemo } from "react";
import type uPlot from "uplot";
import { UPlotChart } from "@/components/charts/UPlotChart";
import { seriesColour, seriesDash, useChartTheme, type ChartTheme } from "@/components/charts/chartTheme";
import type { Curve } from "./curves";

interface CurveChartProps {
  curves: Curve[];
  label: string;
  xLabel: string;
  yLabel: string;
}

export default function CurveChart({ curves, label, xLabel, yLabel }: CurveChartProps) {
  const theme = useChartTheme();
  const options = useMemo(() => curveOptions(curves, xLabel, yLabel, theme), [curves, xLabel, yLabel, theme]);
  const data = useMemo(
    () => [null, ...curves.map((curve) => [curve.x, curve.y])] as unknown as uPlot.AlignedData,
    [curves],
  );
  return <UPlotChart options={options} data={data} label={label} height={320} />;
}

function axis(label: string, theme: ChartTheme): uPlot.Axis {
  return {
    label,
    stroke: theme.text,
    grid: { stroke: theme.border, width: 1 },
    ticks: { stroke: theme.border, width: 1 },
  };
}

function curveOptions(curves: Curve[], xLabel: string, yLabel: string, theme: ChartTheme) {
  let colour = 0;
  const series: uPlot.Series[] = curves.map((curve) => {
    if (curve.reference) {
      return { label: curve.label, stroke: theme.muted, width: 1, dash: [6, 6], points: { show: false } };
    }
    const index = colour++;
    return {
      label: curve.label,
      stroke: curve.average ? theme.text : seriesColour(index),
      width: curve.average ? 2.5 : 2,
      dash: curve.average ? [10, 5] : seriesDash(index),
      points: { show: false },
    };
  });
  return {
    mode: 2 as uPlot.Mode,
    scales: { x: { time: false, auto: false, range: [0, 1] as uPlot.Range.MinMax }, y: { auto: false, range: [0, 1] as uPlot.Range.MinMax } },
    axes: [axis(xLabel, theme), axis(yLabel, theme)],
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    series: [{}, ...series],
  } satisfies Omit<uPlot.Options, "width" | "height">;
}
