// The confusion matrix heatmap (ECharts): true class down, predicted class across.
import { useMemo } from "react";
import { useChartTheme, type ChartTheme } from "@/components/charts/chartTheme";
import type { ConfusionScale } from "./ConfusionSection";
import { EChart, type EChartOption } from "./EChart";
import { formatCount, formatLabel, formatShare } from "./format";
import type { ConfusionMatrix } from "./types";

/** Light to dark blue: the cell text switches to white on the darker half. */
const SCALE = ["#eef5fc", "#08306b"];

export default function ConfusionHeatmap({
  confusion,
  scale,
}: {
  confusion: ConfusionMatrix;
  scale: ConfusionScale;
}) {
  const theme = useChartTheme();
  const option = useMemo(() => heatmapOption(confusion, scale, theme), [confusion, scale, theme]);
  const size = confusion.labels.length;
  return <EChart option={option} label="Confusion matrix" height={Math.min(120 + size * 56, 560)} />;
}

export function heatmapOption(confusion: ConfusionMatrix, scale: ConfusionScale, theme: ChartTheme): EChartOption {
  const values = scale === "counts" ? confusion.matrix : confusion.normalized;
  const show = scale === "counts" ? formatCount : formatShare;
  const labels = confusion.labels.map((label) => formatLabel(label));
  const max = Math.max(1e-9, ...values.flat());
  const cells = values.flatMap((row, truth) =>
    row.map((value, predicted) => ({
      value: [predicted, truth, value],
      label: { color: value > max / 2 ? "#ffffff" : "#08142a" },
    })),
  );
  const axis = (name: string) => ({
    type: "category" as const,
    data: labels,
    name,
    nameLocation: "middle" as const,
    nameGap: 32,
    nameTextStyle: { color: theme.text, fontWeight: "bold" as const },
    axisLabel: { color: theme.text },
    axisLine: { lineStyle: { color: theme.border } },
    splitArea: { show: false },
  });
  return {
    aria: {
      enabled: true,
      label: {
        description: `Confusion matrix of ${labels.length} classes (${labels.join(", ")}), ${
          scale === "counts" ? "in test rows" : "as shares of each true class"
        }; the table below lists every cell.`,
      },
    },
    backgroundColor: "transparent",
    textStyle: { color: theme.text },
    tooltip: {
      formatter: (params) => {
        const item = Array.isArray(params) ? params[0] : params;
        const [predicted, truth, value] = item.value as [number, number, number];
        return `True ${labels[truth]}, predicted ${labels[predicted]}: ${show(value)}`;
      },
    },
    grid: { left: 16, right: 90, top: 16, bottom: 48 },
    xAxis: axis("Predicted class"),
    yAxis: { ...axis("True class"), inverse: true, nameGap: 48 },
    visualMap: {
      min: 0,
      max,
      calculable: false,
      text: [show(max), show(0)],
      orient: "vertical",
      right: 8,
      top: "center",
      itemHeight: 120,
      inRange: { color: SCALE },
      textStyle: { color: theme.text },
      formatter: (value) => show(Number(value)),
    },
    series: [
      {
        type: "heatmap",
        data: cells,
        label: { show: true, formatter: (params) => show((params.value as number[])[2]) },
        itemStyle: { borderColor: theme.surface, borderWidth: 2 },
      },
    ],
  };
}
