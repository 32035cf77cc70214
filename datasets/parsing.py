"""Turn an uploaded file (CSV, TSV, Parquet, optionally gzip-compressed) into one
clean Arrow table, or refuse it with a message a person can act on.

Pure: no Django import, so it is tested with plain files. Every refusal is a
`DatasetRejected`; anything else escaping from here is a bug.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

TEXT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv"}
PARQUET_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet"}
SUPPORTED_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".csv.gz", ".tsv.gz", ".parquet.gz")

SAMPLE_BYTES = 256 * 1024
# Files above this size are read with column types taken from their first TYPE_SAMPLE_BYTES.
TYPED_READ_MIN_BYTES = 16 * 1024**2
TYPE_SAMPLE_BYTES = 4 * 1024**2
SNIFF_LINES = 200
DELIMITERS = (",", "\t", ";", "|")
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# Magic numbers of files people upload by mistake, for a friendlier refusal.
KNOWN_BINARY = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx); export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Office document (.xls); export the sheet as CSV"),
    (b"%PDF", "a PDF document"),
    (PARQUET_MAGIC, "a Parquet file; give it a .parquet name"),
    (b"SQLite format 3", "an SQLite database"),
)
NUMBER_DOT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
NUMBER_COMMA = re.compile(r"^[+-]?(\d+,?\d*|,\d+)([eE][+-]?\d+)?$")
# Numbers whose text a conversion would lose: zero-padded codes ("01", "007"), a sign
# written out ("+1"). A column holding one is kept as text, so labels and categories
# come back as uploaded (issue #16).
PADDED_NUMBER = r"^([+-]?0[0-9]+([.,][0-9]*)?([eE][+-]?[0-9]+)?|\+[0-9.,]+)$"
# Only JSON's own spelling is read as a boolean: "TRUE", "True", "1" or "yes" would come
# back from a model as `true`, not as the text that was uploaded.
TRUE_VALUES = ["true"]
FALSE_VALUES = ["false"]


class DatasetRejected(Exception):
    """Bad input. `message` is shown to the uploader; `status` is the HTTP status."""

    def __init__(self, message: str, code: str = "invalid_file", status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ParseLimits:
    max_columns: int = 2000
    max_decompressed_bytes: int = 1024**3
    max_column_name_length: int = 255
    # Parquet footers are Thrift; these stop a forged footer from claiming huge
    # strings or lists (Arrow allocates what the footer claims before reading it).
    max_parquet_footer_bytes: int = 16 * 1024**2
    thrift_string_size_limit: int = 16 * 1024**2
    thrift_container_size_limit: int = 100_000


@dataclass
class ParsedTable:
    table: pa.Table
    format: str  # csv | tsv | parquet
    compression: str = ""  # "" | gzip
    encoding: str = ""
    delimiter: str = ""
    has_header: bool = True
    decimal_point: str = "."


@dataclass(frozen=True)
class TextDialect:
    encoding: str  # a Python codec name; "utf-8" covers the UTF-8 BOM (Arrow skips it)
    delimiter: str
    has_header: bool
    column_names: list[str]
    decimal_point: str = "."
    newlines_in_values: bool = False


def detect_format(filename: str) -> tuple[str, str]:
    """(format, compression) from the file name: ("csv", "gzip") for "x.csv.gz"."""
    name = (filename or "").strip().lower()
    compression = ""
    if name.endswith(".gz"):
        compression, name = "gzip", name[:-3]
    suffix = os.path.splitext(name)[1]
    fmt = TEXT_EXTENSIONS.get(suffix) or PARQUET_EXTENSIONS.get(suffix)
    if fmt is None:
        shown = suffix + (".gz" if compression else "") if suffix else "(none)"
        raise DatasetRejected(
            f"Unsupported file type {shown}. Upload one of: {', '.join(SUPPORTED_EXTENSIONS)}.",
            code="unsupported_type",
        )
    return fmt, compression


def parse_file(
    path: str | os.PathLike, *, filename: str, workdir: str | os.PathLike, limits: ParseLimits
) -> ParsedTable:
    """Read the file at `path` (named `filename` by the uploader) into a normalised table.

    `workdir` is a private scratch folder (for the decompressed copy of a gzip file).
    """
    fmt, compression = detect_format(filename)
    path = Path(path)
    head = _read_head(path, 16)
    if not head:
        raise DatasetRejected("The file is empty.", code="empty_file")
    if head.startswith(GZIP_MAGIC):
        compression = "gzip"
    elif compression:
        raise DatasetRejected(
            "The file is named .gz but is not gzip-compressed.", code="invalid_gzip"
        )
    if compression:
        path = _gunzip(path, Path(workdir) / "decompressed", limits.max_decompressed_bytes)
        if not _read_head(path, 1):
            raise DatasetRejected("The file is empty once decompressed.", code="empty_file")
    if fmt == "parquet":
        parsed = _read_parquet(path, limits)
    else:
        parsed = _read_text(path, fmt=fmt, limits=limits)
    parsed.compression = compression
    parsed.table = normalise_table(parsed.table, limits=limits)
    if parsed.table.num_rows == 0:
        raise DatasetRejected("The file has column names but no data rows.", code="no_rows")
    return parsed


# --- compression -------------------------------------------------------------------------


def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _gunzip(source: Path, target: Path, max_bytes: int) -> Path:
    """Decompress with a hard cap, so a small gzip bomb cannot fill the disk."""
    written = 0
    try:
        with pa.input_stream(str(source), compression="gzip") as src, open(target, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                written += len(chunk)
                if written > max_bytes:
                    raise DatasetRejected(
                        f"The file decompresses to more than {_mib(max_bytes)}, the limit for "
                        "compressed uploads.",
                        code="decompressed_too_large",
                    )
                dst.write(chunk)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetRejected(
            f"The gzip data is corrupt or truncated ({_short(exc)}).", code="invalid_gzip"
        ) from None
    return target


# --- delimited text ------------------------------------------------------------------------


def _read_text(path: Path, *, fmt: str, limits: ParseLimits) -> ParsedTable:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    dialect = sniff_text(
        sample, at_eof=size <= SAMPLE_BYTES, prefer_tab=fmt == "tsv", limits=limits
    )
    as_text = _padded_number_columns(path, dialect, size)
    types = _sample_types(path, dialect) if size > TYPED_READ_MIN_BYTES else None
    if as_text:
        types = {**(types or {}), **dict.fromkeys(as_text, pa.string())}
    table, dialect = _read_csv_table(path, dialect, size, types, as_text)
    return ParsedTable(
        table=table,
        format="tsv" if dialect.delimiter == "\t" else "csv",
        encoding=dialect.encoding,
        delimiter=dialect.delimiter,
        has_header=dialect.has_header,
        decimal_point=dialect.decimal_point,
    )


class _TypesDidNotFit(Exception):
    """A value further down does not fit the type the sample suggested."""


class _NotUtf8(Exception):
    """The sample was UTF-8, a later row is not."""


def _read_csv_table(
    path: Path, dialect: TextDialect, size: int, types: dict | None, as_text: list[str]
) -> tuple[pa.Table, TextDialect]:
    try:
        table = _arrow_read_csv(path, dialect, size, types)
    except _TypesDidNotFit:
        text_only = dict.fromkeys(as_text, pa.string()) or None
        return _read_csv_table(path, dialect, size, text_only, as_text)
    except _NotUtf8:
        legacy = replace(dialect, encoding=_legacy_encoding(path))
        return _read_csv_table(path, legacy, size, types, as_text)
    if dialect.encoding == "utf-8" and any(pa.types.is_binary(t) for t in table.schema.types):
        # Inference turns text that is not UTF-8 into binary: a legacy 8-bit file.
        legacy = replace(dialect, encoding=_legacy_encoding(path))
        return _read_csv_table(path, legacy, size, types, as_text)
    return table, dialect


def _padded_number_columns(path: Path, dialect: TextDialect, size: int) -> list[str]:
    """Columns whose first TYPE_SAMPLE_BYTES (the whole of a small file) hold a number
    written so that converting it would change its text (PADDED_NUMBER): read as text."""
    if dialect.encoding not in ("utf-8", "cp1252", "latin-1"):
        return []
    with open(path, "rb") as fh:
        head = fh.read(TYPE_SAMPLE_BYTES)
    if size > TYPE_SAMPLE_BYTES:
        head = head[: head.rfind(b"\n") + 1]
    if not head:
        return []
    text_types = dict.fromkeys(dialect.column_names, pa.string())
    try:
        sample = pcsv.read_csv(
            pa.py_buffer(head), **_csv_options(dialect, threads=False, types=text_types)
        )
    except (pa.ArrowException, UnicodeDecodeError):
        return []  # the full read will say what is wrong
    return [
        name
        for name, column in zip(sample.column_names, sample.columns, strict=True)
        if pc.any(pc.match_substring_regex(column, PADDED_NUMBER)).as_py()
    ]


def _sample_types(path: Path, dialect: TextDialect) -> dict[str, pa.DataType] | None:
    """Column types from the first rows. Given to Arrow for the full read, they spare
    it keeping every parsed block until the end in case inference changes its mind,
    which more than doubles the peak memory of a big file."""
    if dialect.encoding not in ("utf-8", "cp1252", "latin-1"):
        return None
    with open(path, "rb") as fh:
        head = fh.read(TYPE_SAMPLE_BYTES)
    head = head[: head.rfind(b"\n") + 1]
    if not head:
        return None
    try:
        sample = pcsv.read_csv(pa.py_buffer(head), **_csv_options(dialect, threads=False))
    except (pa.ArrowException, UnicodeDecodeError):
        return None  # the full read will say what is wrong
    return {
        f.name: f.type
        for f in sample.schema
        if not (pa.types.is_null(f.type) or pa.types.is_binary(f.type))
    }


def _csv_options(dialect: TextDialect, *, threads: bool, types=None, on_invalid=None) -> dict:
    return {
        "read_options": pcsv.ReadOptions(
            use_threads=threads,
            encoding="utf8" if dialect.encoding == "utf-8" else dialect.encoding,
            column_names=dialect.column_names,
            skip_rows=1 if dialect.has_header else 0,
        ),
        "parse_options": pcsv.ParseOptions(
            delimiter=dialect.delimiter,
            newlines_in_values=dialect.newlines_in_values,
            invalid_row_handler=on_invalid,
        ),
        "convert_options": pcsv.ConvertOptions(
            column_types=types,
            decimal_point=dialect.decimal_point,
            true_values=TRUE_VALUES,
            false_values=FALSE_VALUES,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


def _arrow_read_csv(path: Path, dialect: TextDialect, size: int, types: dict | None) -> pa.Table:
    invalid: list = []

    def on_invalid_row(row) -> str:
        invalid.append(row)
        return "error"

    options = _csv_options(
        dialect,
        # Small files parse single-threaded, which also lets Arrow report row numbers.
        threads=size > 4 * 1024**2,
        types=types,
        on_invalid=on_invalid_row,
    )
    try:
        return pcsv.read_csv(str(path), **options)
    except UnicodeDecodeError as exc:
        raise DatasetRejected(
            f"The file is not valid {dialect.encoding} text ({_short(exc)}).", code="bad_encoding"
        ) from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        message = str(exc)
        if invalid and not dialect.newlines_in_values and '"' in invalid[0].text:
            # A quoted field with a line break beyond the sniffed sample: allow them, try again.
            return _arrow_read_csv(path, replace(dialect, newlines_in_values=True), size, types)
        if invalid:
            row = invalid[0]
            where = f"Line {row.number}" if row.number else "A row"
            raise DatasetRejected(
                f"{where} has {row.actual_columns} fields but the header has "
                f"{row.expected_columns}: {_clip(row.text)!r}. Every row needs the same number "
                "of fields.",
                code="ragged_rows",
            ) from None
        if "invalid UTF8" in message and dialect.encoding == "utf-8":
            raise _NotUtf8() from None
        if types and "conversion error" in message:
            raise _TypesDidNotFit() from None
        raise DatasetRejected(
            f"The file could not be parsed as delimited text: {_short(exc)}", code="parse_error"
        ) from None


def sniff_text(
    sample: bytes, *, at_eof: bool, prefer_tab: bool = False, limits: ParseLimits | None = None
) -> TextDialect:
    """Encoding, delimiter, header and column names from the first bytes of a text file."""
    limits = limits or ParseLimits()
    if not sample.strip():
        raise DatasetRejected("The file is empty.", code="empty_file")
    encoding, text = _decode_sample(sample, at_eof=at_eof)
    if not at_eof:
        # The last line of the sample may be cut anywhere; it is not evidence.
        text = text[: text.rfind("\n") + 1] or text
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DatasetRejected("The file is empty.", code="empty_file")
    delimiter = _pick_delimiter(lines[:SNIFF_LINES], prefer_tab=prefer_tab)
    rows = list(csv.reader(io.StringIO("\n".join(lines[:SNIFF_LINES])), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    first, rest = rows[0], rows[1:]
    decimal_point = "," if delimiter != "," and _uses_decimal_comma(rest) else "."
    has_header = _looks_like_header(first, rest, decimal_point)
    if has_header:
        names = [cell.strip() for cell in first]
        if names:
            names[0] = names[0].lstrip("\ufeff").strip()
        names = [name or f"column_{i + 1}" for i, name in enumerate(names)]
    else:
        names = [f"column_{i + 1}" for i in range(len(first))]
    check_column_names(names, limits)
    return TextDialect(
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        column_names=names,
        decimal_point=decimal_point,
        newlines_in_values='"' in text and _has_multiline_field(text, delimiter),
    )


def _decode_sample(sample: bytes, *, at_eof: bool) -> tuple[str, str]:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder = codecs.getincrementaldecoder("utf-16")()
        try:
            return "utf-16", decoder.decode(sample, final=at_eof)
        except UnicodeDecodeError:
            raise DatasetRejected(
                "The file is not valid UTF-16 text.", code="bad_encoding"
            ) from None
    for magic, what in KNOWN_BINARY:
        if sample.startswith(magic):
            raise DatasetRejected(
                f"This does not look like a text (CSV/TSV) file: it looks like {what}.",
                code="not_text",
            )
    controls = sum(sample.count(bytes([b])) for b in (*range(0, 9), 11, 14, *range(15, 32), 127))
    if b"\x00" in sample or controls > len(sample) // 100:
        raise DatasetRejected(
            "This does not look like a text (CSV/TSV) file: it contains binary data.",
            code="not_text",
        )
    try:
        return "utf-8", codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_eof)
    except UnicodeDecodeError:
        pass
    # Not UTF-8. Windows-1252 (the usual "Latin-1" of spreadsheets) where it fits,
    # else ISO-8859-1, which maps every byte to a character, so nothing is replaced.
    for encoding in ("cp1252", "latin-1"):
        try:
            return encoding, sample.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _legacy_encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("cp1252")()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(4 * 1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "cp1252"


def _pick_delimiter(lines: list[str], *, prefer_tab: bool) -> str:
    best, best_score = ("\t" if prefer_tab else ","), (0.0, 1, 0)
    for delimiter in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]
        counts = [c for c in counts if c]
        if not counts:
            continue
        mode, hits = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (round(hits / len(counts), 2), mode, int(delimiter == "\t" and prefer_tab))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _is_number(cell: str, decimal_point: str) -> bool:
    pattern = NUMBER_COMMA if decimal_point == "," else NUMBER_DOT
    return bool(pattern.match(cell.strip()))


def _uses_decimal_comma(rows: list[list[str]]) -> bool:
    cells = [c.strip() for r in rows for c in r if "," in c]
    return bool(cells) and all(NUMBER_COMMA.match(c) for c in cells)


def _looks_like_header(first: list[str], rest: list[list[str]], decimal_point: str) -> bool:
    """The first row is a header unless it is as numeric as the rows beneath it."""
    header_votes = data_votes = 0
    for j, cell in enumerate(first):
        below = [r[j].strip() for r in rest if j < len(r) and r[j].strip()]
        if not below or sum(_is_number(c, decimal_point) for c in below) < 0.9 * len(below):
            continue
        if not cell.strip():
            continue
        if _is_number(cell, decimal_point):
            data_votes += 1
        else:
            header_votes += 1
    if header_votes:
        return True
    if data_votes:
        return False
    if not rest:
        # A single line: a header row unless it is all numbers.
        return not all(_is_number(c, decimal_point) or not c.strip() for c in first)
    return True


def _has_multiline_field(text: str, delimiter: str) -> bool:
    return any(
        "\n" in cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row
    )


def check_column_names(names: list[str], limits: ParseLimits) -> None:
    if len(names) > limits.max_columns:
        raise DatasetRejected(
            f"The file has {len(names)} columns; the limit is {limits.max_columns}.",
            code="too_many_columns",
        )
    long = [n for n in names if len(n) > limits.max_column_name_length]
    if long:
        raise DatasetRejected(
            f"Column name {_clip(long[0], 40)!r}... is longer than "
            f"{limits.max_column_name_length} characters.",
            code="column_name_too_long",
        )
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicates:
        shown = ", ".join(repr(d) for d in duplicates[:10])
        raise DatasetRejected(
            f"Duplicate column names: {shown}. Every column needs its own name.",
            code="duplicate_columns",
        )


# --- Parquet -------------------------------------------------------------------------------


def _read_parquet(path: Path, limits: ParseLimits) -> ParsedTable:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
        if size >= 12:
            fh.seek(size - 8)
            tail = fh.read(8)
        else:
            tail = b""
    if head != PARQUET_MAGIC or tail[4:] != PARQUET_MAGIC:
        raise DatasetRejected(
            "This is not a Parquet file (the PAR1 markers are missing).", code="invalid_parquet"
        )
    footer = int.from_bytes(tail[:4], "little")
    if footer > min(limits.max_parquet_footer_bytes, size - 12):
        raise DatasetRejected(
            f"The Parquet metadata claims {footer} bytes, more than this server reads "
            f"({_mib(limits.max_parquet_footer_bytes)} at most, and never more than the file).",
            code="invalid_parquet",
        )
    try:
        reader = pq.ParquetFile(
            str(path),
            thrift_string_size_limit=limits.thrift_string_size_limit,
            thrift_container_size_limit=limits.thrift_container_size_limit,
        )
        schema = reader.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise DatasetRejected(
            f"The Parquet file could not be read: {_short(exc)}", code="invalid_parquet"
        ) from None
    with reader:
        metadata = reader.metadata
        names = list(schema.names)
        check_column_names(names, limits)
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise DatasetRejected(
                f"Column {nested[0]!r} holds nested data ({schema.field(nested[0]).type}); only "
                "flat tables are supported.",
                code="nested_column",
            )
        unpacked = sum(
            metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)
        )
        if unpacked > limits.max_decompressed_bytes:
            raise DatasetRejected(
                f"The Parquet data unpacks to {_mib(unpacked)}, more than the "
                f"{_mib(limits.max_decompressed_bytes)} limit.",
                code="decompressed_too_large",
            )
        try:
            table = reader.read(use_threads=True)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetRejected(
                f"The Parquet data is corrupt: {_short(exc)}", code="invalid_parquet"
            ) from None
    if table.nbytes > limits.max_decompressed_bytes:
        raise DatasetRejected(
            f"The Parquet data unpacks to more than {_mib(limits.max_decompressed_bytes)}.",
            code="decompressed_too_large",
        )
    return ParsedTable(table=table, format="parquet")


# --- normalisation ---------------------------------------------------------------------------


def normalise_table(table: pa.Table, *, limits: ParseLimits) -> pa.Table:
    """One representation per kind of value, so profiling, preview and training agree:
    dictionaries decoded, decimals as float64, binary as UTF-8 text, NaN as missing."""
    names = [
        name if name.strip() else f"column_{i + 1}" for i, name in enumerate(table.column_names)
    ]
    check_column_names(names, limits)
    columns = []
    for name, column in zip(names, table.columns, strict=True):
        columns.append(_normalise_column(name, column))
    return pa.table(columns, names=names)


def _normalise_column(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_null(kind):
        return column.cast(pa.string())
    if pa.types.is_decimal(kind) or pa.types.is_float16(kind):
        return column.cast(pa.float64())
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return column.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        try:
            return column.cast(pa.string())
        except pa.ArrowInvalid:
            raise DatasetRejected(
                f"Column {name!r} holds bytes that are not UTF-8 text.", code="binary_column"
            ) from None
    if pa.types.is_fixed_size_binary(kind):
        raise DatasetRejected(f"Column {name!r} holds raw binary data.", code="binary_column")
    if pa.types.is_floating(kind) and column.null_count < len(column):
        nan = pc.is_nan(column)
        if pc.any(nan).as_py():
            column = pc.if_else(nan, pa.scalar(None, kind), column)
    return column


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _clip(text, limit)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB" if n >= 1024**2 else f"{n} bytes"
