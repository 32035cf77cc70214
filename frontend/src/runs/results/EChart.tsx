// ECharts in React, tree-shaken to the heatmap and bar charts that the results use.
// Only the lazily loaded chart modules import this, so ECharts stays out of the
// sign-in bundle. The chart follows its container's width.
import { BarChart, HeatmapChart, type BarSeriesOption, type HeatmapSeriesOption } from "echarts/charts";
import {
  AriaComponent,
  GridComponent,
  TooltipComponent,
  VisualMapComponent,
  type AriaComponentOption,
  type GridComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([
  HeatmapChart,
  BarChart,
  GridComponent,
  TooltipComponent,
  VisualMapComponent,
  AriaComponent,
  CanvasRenderer,
]);

export type EChartOption = echarts.ComposeOption<
  | HeatmapSeriesOption
  | BarSeriesOption
  | GridComponentOption
  | TooltipComponentOption
  | VisualMapComponentOption
  | AriaComponentOption
>;

export function EChart({ option, label, height }: { option: EChartOption; label: string; height: number }) {
  const canvas = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const made = echarts.init(element, null, { renderer: "canvas" });
    chart.current = made;
    const observer = new ResizeObserver(() => made.resize());
    observer.observe(element);
    return () => {
      observer.disconnect();
      made.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  useEffect(() => {
    chart.current?.resize();
  }, [height]);

  // ECharts writes its own aria-label (from the `aria` option) on the element it draws
  // in, so the accessible name sits on a wrapper it does not touch.
  return (
    <div role="img" aria-label={label} className="results-echart">
      <div ref={canvas} style={{ height }} />
    </div>
  );
}
