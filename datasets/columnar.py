"""The Parquet copy: how it is laid out and how rows are paged out of it.

Pure: no Django. Row groups are sized so that one holds about ROW_GROUP_CELLS values;
a preview page reads only the row groups that cover it, so its cost depends on the
row-group size, never on the dataset's length.
"""

from __future__ import annotations

import bisect
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .profiling import json_value

ROW_GROUP_CELLS = 131_072
MIN_ROW_GROUP_ROWS = 1024
MAX_ROW_GROUP_ROWS = 65_536


def row_group_rows(n_columns: int) -> int:
    """Rows per row group: a power of two near ROW_GROUP_CELLS / columns, within bounds."""
    target = ROW_GROUP_CELLS // max(1, n_columns)
    rows = MIN_ROW_GROUP_ROWS
    while rows * 2 <= min(target, MAX_ROW_GROUP_ROWS):
        rows *= 2
    return rows


def write_parquet(table: pa.Table, where: str | IO[bytes]) -> None:
    text = [f.name for f in table.schema if pa.types.is_string(f.type)]
    other = [f.name for f in table.schema if not pa.types.is_string(f.type)]
    repeated = [name for name in text if _repeats(table.column(name))]
    pq.write_table(
        table,
        where,
        row_group_size=row_group_rows(table.num_columns),
        compression="snappy",
        # Dictionaries pay off for repeated text (categories); on free text and
        # continuous numbers Arrow builds one only to throw it away. Statistics of long
        # strings would bloat the footer that every read parses.
        use_dictionary=repeated or False,
        write_statistics=other or False,
    )


def _repeats(column: pa.ChunkedArray, probe: int = 10_000) -> bool:
    head = column.slice(0, probe)
    return len(pc.unique(head)) <= len(head) // 2


def read_page(
    source: str | IO[bytes],
    *,
    offset: int,
    limit: int,
    metadata: pq.FileMetaData | None = None,
) -> dict[str, Any]:
    """Rows [offset, offset + limit) as JSON-safe lists, reading only the row groups
    that hold them. Returns {columns, rows, total_rows, offset, limit}."""
    rows: list[list[Any]] = []
    with pq.ParquetFile(source, metadata=metadata) as reader:
        meta = reader.metadata
        names = reader.schema_arrow.names
        total = meta.num_rows
        if offset < total:
            starts = row_group_starts(meta)
            first = bisect.bisect_right(starts, offset) - 1
            end = min(offset + limit, total)
            # Row groups from the one holding `offset` to the last one starting before `end`.
            groups = list(range(first, bisect.bisect_left(starts, end)))
            table = reader.read_row_groups(groups, use_threads=len(groups) > 1)
            rows = rows_as_json(table.slice(offset - starts[first], end - offset))
    return {"columns": names, "rows": rows, "total_rows": total, "offset": offset, "limit": limit}


def row_group_starts(meta: pq.FileMetaData) -> list[int]:
    starts, position = [], 0
    for i in range(meta.num_row_groups):
        starts.append(position)
        position += meta.row_group(i).num_rows
    return starts


def rows_as_json(table: pa.Table) -> list[list[Any]]:
    columns = []
    for column in table.columns:
        values = column.to_pylist()
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_boolean(kind):
            columns.append(values)
        else:
            columns.append([json_value(v) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else []
