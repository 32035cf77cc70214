// The preview of every row, however many: TanStack Table defines the columns, TanStack
// Virtual renders only the rows and columns in view, and the rows come in pages of
// PREVIEW_PAGE_ROWS fetched once the visible range settles (a fast scroll past a page
// does not fetch it). Unloaded rows show as placeholders with their row numbers.
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  useReactTable,
  type Column,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useId, useMemo, useRef, useState } from "react";
import { ErrorState, Loading } from "@/components/states";
import { PREVIEW_PAGE_ROWS, previewPageQuery, type Preview } from "./api";
import { formatCount, formatRaw } from "./format";

type PreviewRow = unknown[];
type PreviewColumn = Column<PreviewRow, unknown>;

export const ROW_HEIGHT = 32;
const ROW_NUMBER_WIDTH = 88;
const SETTLE_MS = 100;
const WIDTH_SAMPLE_ROWS = 50;
const NO_ROWS: PreviewRow[] = [];
const helper = createColumnHelper<PreviewRow>();

export function DataPreview({ datasetId, numeric }: { datasetId: string; numeric: ReadonlySet<string> }) {
  const first = useQuery(previewPageQuery(datasetId, 0));
  if (first.isPending) return <Loading label="Loading the preview…" />;
  if (first.error) return <ErrorState error={first.error} retry={() => void first.refetch()} />;
  if (first.data.total_rows === 0) return <p>This dataset has no rows.</p>;
  return (
    <PreviewGrid
      datasetId={datasetId}
      names={first.data.columns}
      sample={first.data.rows}
      totalRows={first.data.total_rows}
      numeric={numeric}
    />
  );
}

/** Numbers align right, in the header too. */
function isNumeric(column: PreviewColumn): boolean {
  return Boolean((column.columnDef.meta as { numeric?: boolean } | undefined)?.numeric);
}

/** Wide enough for the name and the first page's values, within bounds (text is cut with an ellipsis). */
function columnWidth(name: string, sample: unknown[]): number {
  const longest = sample.reduce<number>((most, value) => Math.max(most, formatRaw(value).length), name.length);
  // About 8px a character, two to spare (identifiers grow longer further down), and padding.
  return Math.min(280, Math.max(96, (longest + 2) * 8 + 24));
}

function PreviewGrid({
  datasetId,
  names,
  sample,
  totalRows,
  numeric,
}: {
  datasetId: string;
  names: string[];
  sample: PreviewRow[];
  totalRows: number;
  numeric: ReadonlySet<string>;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const rangeId = useId();
  const columns = useMemo(
    () =>
      names.map((name, i) =>
        helper.accessor((row) => row[i], {
          id: String(i),
          header: name,
          size: columnWidth(
            name,
            sample.slice(0, WIDTH_SAMPLE_ROWS).map((row) => row[i]),
          ),
          meta: { numeric: numeric.has(name) },
        }),
      ),
    [names, sample, numeric],
  );
  const table = useReactTable({ data: NO_ROWS, columns, getCoreRowModel: getCoreRowModel() });
  const leaves = table.getVisibleLeafColumns();
  // Left edge of each column (and the total width at the end): cells are fixed-width.
  const offsets = useMemo(() => {
    const edges = [0];
    for (const column of leaves) edges.push(edges[edges.length - 1] + column.getSize());
    return edges;
  }, [leaves]);
  const dataWidth = offsets[offsets.length - 1];

  // Columns first: each virtualiser reads its scroll offset in its own scroll listener,
  // in the order they were created. The row virtualiser re-renders synchronously, so a
  // listener after it would read scrollLeft from a dirty layout and force a reflow.
  const cols = useVirtualizer({
    horizontal: true,
    count: leaves.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => leaves[i].getSize(),
    overscan: 3,
  });
  const rows = useVirtualizer({
    count: totalRows,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
  });

  const rowItems = rows.getVirtualItems();
  const colItems = cols.getVirtualItems();
  const colStart = colItems[0]?.index ?? 0;
  const colEnd = colItems[colItems.length - 1]?.index ?? -1;

  const { loaded, failure, retry } = usePreviewPages(
    datasetId,
    rowItems[0]?.index ?? 0,
    rowItems[rowItems.length - 1]?.index ?? 0,
  );

  // What is in view below the sticky header (one row tall), for "Rows X–Y of N".
  const top = rows.scrollOffset ?? 0;
  const height = rows.scrollRect?.height ?? 0;
  const firstShown = Math.min(totalRows - 1, Math.floor(top / ROW_HEIGHT));
  const lastShown = Math.min(totalRows - 1, Math.max(firstShown, Math.ceil((top + height) / ROW_HEIGHT) - 2));

  return (
    <div className="preview">
      <p id={rangeId} className="preview-range">
        Rows {formatCount(firstShown + 1)}–{formatCount(lastShown + 1)} of {formatCount(totalRows)}
      </p>
      {failure && (
        <div role="alert" className="error preview-failure">
          Some rows could not be loaded: {failure.message}{" "}
          <button type="button" onClick={retry}>
            Try again
          </button>
        </div>
      )}
      <div
        ref={scrollRef}
        className="preview-scroll"
        role="region"
        aria-label="Data preview"
        aria-describedby={rangeId}
        tabIndex={0}
      >
        {/* Explicit roles: the display overrides that position rows drop table semantics in some browsers. */}
        <table
          role="table"
          className="preview-table"
          aria-label="Dataset rows"
          aria-rowcount={totalRows + 1}
          aria-colcount={leaves.length + 1}
          style={{ width: ROW_NUMBER_WIDTH + dataWidth, height: ROW_HEIGHT + rows.getTotalSize() }}
        >
          <thead role="rowgroup" className="preview-head">
            {table.getHeaderGroups().map((group) => (
              <tr role="row" key={group.id} aria-rowindex={1}>
                <th
                  role="columnheader"
                  scope="col"
                  aria-colindex={1}
                  className="row-number"
                  style={{ width: ROW_NUMBER_WIDTH }}
                >
                  Row
                </th>
                {group.headers.slice(colStart, colEnd + 1).map((header, i) => (
                  <th
                    role="columnheader"
                    scope="col"
                    key={header.id}
                    aria-colindex={colStart + i + 2}
                    title={String(header.column.columnDef.header)}
                    className={isNumeric(header.column) ? "num" : undefined}
                    style={{
                      width: header.getSize(),
                      marginLeft: i === 0 ? offsets[colStart] : undefined,
                    }}
                  >
                    {flexRender(header.column.columnDef.header, header.getContext())}
                  </th>
                ))}
              </tr>
            ))}
          </thead>
          {/* The rows in view sit in normal flow in one block moved to the first one's place,
              and are keyed by their place in that block: a scroll step rewrites their text
              and moves one element, instead of creating, restyling and placing rows. */}
          <tbody
            role="rowgroup"
            className="preview-body"
            style={{ transform: `translateY(${rowItems[0]?.start ?? 0}px)` }}
          >
            {rowItems.map((item, place) => (
              <PreviewTableRow
                key={place}
                index={item.index}
                values={loaded(item.index)}
                leaves={leaves}
                offsets={offsets}
                colStart={colStart}
                colEnd={colEnd}
              />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** One row; memoised so that a re-render without a scroll step leaves the rows alone. */
const PreviewTableRow = memo(function PreviewTableRow({
  index,
  values,
  leaves,
  offsets,
  colStart,
  colEnd,
}: {
  index: number;
  values: PreviewRow | undefined;
  leaves: PreviewColumn[];
  offsets: number[];
  colStart: number;
  colEnd: number;
}) {
  const cells = [];
  if (values) {
    for (let c = colStart; c <= colEnd; c += 1) {
      const column = leaves[c];
      cells.push(
        <td
          role="cell"
          key={column.id}
          aria-colindex={c + 2}
          className={isNumeric(column) ? "num" : undefined}
          style={{ width: column.getSize(), marginLeft: c === colStart ? offsets[colStart] : undefined }}
        >
          {formatRaw(column.accessorFn?.(values, index))}
        </td>,
      );
    }
  } else {
    cells.push(
      <td role="cell" key="loading" aria-colindex={2} className="placeholder" style={{ width: offsets[offsets.length - 1] }}>
        Loading…
      </td>,
    );
  }
  return (
    <tr
      role="row"
      aria-rowindex={index + 2}
      aria-busy={values ? undefined : true}
    >
      <th role="rowheader" scope="row" aria-colindex={1} className="row-number" style={{ width: ROW_NUMBER_WIDTH }}>
        {formatCount(index + 1)}
      </th>
      {cells}
    </tr>
  );
});

/**
 * The pages under rows first..last (overscan included), fetched once that range has
 * held still for SETTLE_MS; `loaded(i)` is row i's values if its page is in the cache.
 */
function usePreviewPages(datasetId: string, first: number, last: number) {
  const client = useQueryClient();
  const wanted = `${Math.floor(first / PREVIEW_PAGE_ROWS)}:${Math.floor(last / PREVIEW_PAGE_ROWS)}`;
  const [settled, setSettled] = useState(wanted);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(wanted), SETTLE_MS);
    return () => clearTimeout(timer);
  }, [wanted]);
  const [from, to] = settled.split(":").map(Number);
  const pages = [];
  for (let page = from; page <= to; page += 1) pages.push(page);
  const { failed } = useQueries({
    queries: pages.map((page) => previewPageQuery(datasetId, page)),
    // Results are tracked by what is read: reading dataUpdatedAt makes a page's arrival
    // re-render the grid, which then reads the rows from the cache.
    combine: (results) => ({
      arrived: results.map((result) => result.dataUpdatedAt).join(","),
      failed: results.filter((result) => result.error),
    }),
  });
  return {
    loaded: (index: number): PreviewRow | undefined => {
      const page = Math.floor(index / PREVIEW_PAGE_ROWS);
      const data = client.getQueryData<Preview>(previewPageQuery(datasetId, page).queryKey);
      return data?.rows[index - page * PREVIEW_PAGE_ROWS];
    },
    failure: failed[0]?.error ?? null,
    retry: () => failed.forEach((result) => void result.refetch()),
  };
}
