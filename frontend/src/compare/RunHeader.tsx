// A run's column header in the comparison tables: its colour in the curves, its name.
import { Link } from "react-router";
import { SERIES_COLOURS } from "@/components/charts/UPlotChart";
import { runLabel, type Run } from "@/runs/list/runData";

export function runColour(index: number): string {
  return SERIES_COLOURS[index % SERIES_COLOURS.length];
}

export function RunHeader({ run, index }: { run: Run; index: number }) {
  return (
    <th scope="col">
      <span className="swatch" style={{ background: runColour(index) }} aria-hidden="true" />
      <Link to={`/runs/${run.id}`}>{runLabel(run)}</Link>
    </th>
  );
}
