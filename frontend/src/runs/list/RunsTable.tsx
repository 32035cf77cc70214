// The runs as a sortable table: every column sorts from its header button, one column
// per metric that any run reports, and a checkbox per row to pick runs to compare.
import {
  flexRender,
  getCoreRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type SortingState,
} from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { formatMetric, latestMetrics, lowerIsBetter } from "./metrics";
import { datasetLabel, humanise, runLabel, type Run } from "./runData";
import { StatusBadge } from "./StatusBadge";
import { durationMs, formatDateTime, formatDuration } from "./time";

type Value = string | number | undefined;

/** A run with its dataset's name: the table caches cell values per row, so everything a
 * cell shows must come with the row (rows are rebuilt only when the data changes). */
interface RunRow {
  run: Run;
  dataset: string;
}

const METRIC = "metric:";

function columnsFor(metricKeys: string[]) {
  const columns: ColumnDef<RunRow, Value>[] = [
    {
      id: "name",
      header: "Name",
      accessorFn: ({ run }) => runLabel(run),
      cell: ({ row }) => <Link to={`/runs/${row.original.run.id}`}>{runLabel(row.original.run)}</Link>,
    },
    { id: "dataset", header: "Dataset", accessorFn: ({ dataset }) => dataset },
    { id: "model_type", header: "Model type", accessorFn: ({ run }) => humanise(run.model_type) },
    { id: "task", header: "Task", accessorFn: ({ run }) => run.task },
    {
      id: "status",
      header: "Status",
      accessorFn: ({ run }) => run.status,
      cell: ({ row }) => <StatusBadge status={row.original.run.status} />,
    },
    {
      id: "started",
      header: "Started",
      accessorFn: ({ run }) => (run.started_at ? Date.parse(run.started_at) : undefined),
      sortUndefined: "last",
      cell: ({ row }) => {
        const started = row.original.run.started_at;
        return started ? <time dateTime={started}>{formatDateTime(started)}</time> : "Not yet";
      },
    },
    {
      id: "duration",
      header: "Duration",
      accessorFn: ({ run }) => durationMs(run.started_at, run.finished_at),
      sortUndefined: "last",
      cell: ({ getValue }) => {
        const ms = getValue();
        return typeof ms === "number" ? formatDuration(ms) : "—";
      },
    },
    ...metricKeys.map(
      (key): ColumnDef<RunRow, Value> => ({
        id: `${METRIC}${key}`,
        header: key,
        accessorFn: ({ run }) => latestMetrics(run.latest_metrics)[key],
        sortUndefined: "last",
        // The first click puts the best runs on top.
        sortDescFirst: !lowerIsBetter(key),
        cell: ({ getValue }) => formatMetric(getValue() as number | undefined),
      }),
    ),
  ];
  return columns;
}

const isNumeric = (id: string) => id.startsWith(METRIC) || id === "duration";

const ARIA_SORT = { asc: "ascending", desc: "descending" } as const;

export function RunsTable({
  runs,
  metricKeys,
  datasetNames,
  selected,
  onToggle,
}: {
  runs: Run[];
  metricKeys: string[];
  datasetNames: ReadonlyMap<string, string> | undefined;
  selected: readonly string[];
  onToggle: (id: string) => void;
}) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const columns = useMemo(() => columnsFor(metricKeys), [metricKeys]);
  const data = useMemo(
    () => runs.map((run) => ({ run, dataset: datasetLabel(run.dataset, datasetNames) })),
    [runs, datasetNames],
  );
  const table = useReactTable({
    data,
    columns,
    state: { sorting },
    onSortingChange: setSorting,
    getRowId: ({ run }) => run.id,
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
  });

  return (
    <div className="runs-table-wrap">
      <table aria-label="Training runs" className="runs-table">
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              <th scope="col">
                <span className="visually-hidden">Select</span>
              </th>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const label = String(header.column.columnDef.header);
                return (
                  <th
                    key={header.id}
                    scope="col"
                    aria-sort={sorted ? ARIA_SORT[sorted] : "none"}
                    className={isNumeric(header.column.id) ? "num" : undefined}
                  >
                    <button
                      type="button"
                      className="sort-button"
                      aria-label={`Sort by ${label}`}
                      onClick={header.column.getToggleSortingHandler()}
                    >
                      {label}
                      <span aria-hidden="true" className="sort-arrow">
                        {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : "↕"}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr key={row.id} className={selected.includes(row.id) ? "selected" : undefined}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${runLabel(row.original.run)}`}
                  checked={selected.includes(row.id)}
                  onChange={() => onToggle(row.id)}
                />
              </td>
              {row.getVisibleCells().map((cell) => (
                <td key={cell.id} className={isNumeric(cell.column.id) ? "num" : undefined}>
                  {flexRender(cell.column.columnDef.cell, cell.getContext())}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
