// Chart colours from the stylesheet's variables, so canvases follow the light and dark
// themes (which follow the system) like the rest of the page.
import { useSyncExternalStore } from "react";
import { SERIES_COLOURS } from "@/components/charts/UPlotChart";

export interface ChartTheme {
  dark: boolean;
  text: string;
  muted: string;
  border: string;
  surface: string;
  accent: string;
}

const DARK = "(prefers-color-scheme: dark)";

function subscribe(onChange: () => void) {
  const query = window.matchMedia(DARK);
  query.addEventListener("change", onChange);
  return () => query.removeEventListener("change", onChange);
}

const isDark = () => window.matchMedia(DARK).matches;

function variable(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readChartTheme(dark: boolean): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  return {
    dark,
    text: variable(style, "--text", dark ? "#e6edf3" : "#1b2430"),
    muted: variable(style, "--muted", dark ? "#a9b6c3" : "#4d5b6a"),
    border: variable(style, "--border", dark ? "#3b4957" : "#c9d3dd"),
    surface: variable(style, "--surface", dark ? "#161d25" : "#ffffff"),
    accent: variable(style, "--accent", dark ? "#5aa9ff" : "#0b5cad"),
  };
}

const cache = new Map<boolean, ChartTheme>();

/** The current theme's chart colours; a new object (so charts redraw) when it changes. */
export function useChartTheme(): ChartTheme {
  const dark = useSyncExternalStore(subscribe, isDark, () => false);
  if (!cache.has(dark)) cache.set(dark, readChartTheme(dark));
  return cache.get(dark)!;
}

/** The Okabe-Ito palette less black, which vanishes on the dark theme. */
const PALETTE = SERIES_COLOURS.filter((colour) => colour !== "#000000");

export function seriesColour(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** Past the palette's length, series also differ by dash pattern. */
export function seriesDash(index: number): number[] | undefined {
  const round = Math.floor(index / PALETTE.length);
  return round === 0 ? undefined : [[8, 4], [2, 3], [10, 3, 2, 3]][(round - 1) % 3];
}
