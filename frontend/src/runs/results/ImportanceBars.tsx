// Feature importance as horizontal bars (ECharts), the strongest at the top.
import { useMemo } from "react";
import { seriesColour, useChartTheme, type ChartTheme } from "@/components/charts/chartTheme";
import { EChart, type EChartOption } from "./EChart";
import { formatNumber } from "./format";

type Ranked = { feature: string; score: number | null }[];

export default function ImportanceBars({ ranked }: { ranked: Ranked }) {
  const theme = useChartTheme();
  const option = useMemo(() => barsOption(ranked, theme), [ranked, theme]);
  return <EChart option={option} label="Feature importance" height={60 + ranked.length * 26} />;
}

function barsOption(ranked: Ranked, theme: ChartTheme): EChartOption {
  return {
    aria: {
      enabled: true,
      label: {
        description: `Feature importance of the top ${ranked.length} features: ${ranked
          .map(({ feature, score }) => `${feature} ${formatNumber(score)}`)
          .join(", ")}.`,
      },
    },
    backgroundColor: "transparent",
    textStyle: { color: theme.text },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (value) => formatNumber(Number(value)) },
    grid: { left: 8, right: 56, top: 8, bottom: 28 },
    xAxis: {
      type: "value",
      axisLabel: { color: theme.text },
      splitLine: { lineStyle: { color: theme.border } },
    },
    yAxis: {
      type: "category",
      inverse: true,
      data: ranked.map(({ feature }) => feature),
      axisLabel: { color: theme.text, width: 180, overflow: "truncate" },
      axisLine: { lineStyle: { color: theme.border } },
    },
    series: [
      {
        type: "bar",
        data: ranked.map(({ score }) => score ?? 0),
        itemStyle: { color: seriesColour(0) },
        label: { show: true, position: "right", color: theme.text, formatter: (params) => formatNumber(Number(params.value)) },
      },
    ],
  };
}
