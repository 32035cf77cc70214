// uPlot in React: the chart is made once per `options` and fed new data through
// `setData` (uPlot redraws in a few milliseconds), sized to its container.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface UPlotChartProps {
  options: Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
  height?: number;
  /** The chart's accessible name; uPlot draws on a canvas, which has none of its own. */
  label: string;
  /** Hands the live instance out, for callers that append points at frame rate. */
  onCreate?: (chart: uPlot) => void;
}

export function UPlotChart({ options, data, height = 280, label, onCreate }: UPlotChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const made = new uPlot(
      { ...options, width: Math.max(element.clientWidth, 300), height },
      latest.current,
      element,
    );
    chart.current = made;
    onCreate?.(made);
    const observer = new ResizeObserver(() => {
      made.setSize({ width: Math.max(element.clientWidth, 300), height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      made.destroy();
      chart.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- remade only for new options
  }, [options, height]);

  useEffect(() => {
    chart.current?.setData(data);
  }, [data]);

  return <div ref={container} role="img" aria-label={label} className="chart" />;
}

/** Colours that read on both themes (Okabe-Ito, safe for colour-blind readers). */
export const SERIES_COLOURS = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#000000",
];
