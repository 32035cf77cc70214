"""datasets.parsing: pure, no database."""

from __future__ import annotations

import decimal
import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datasets.parsing import (
    DatasetRejected,
    ParseLimits,
    detect_format,
    normalise_table,
    parse_file,
    sniff_text,
)


def parse(tmp_path, content: bytes, filename: str = "data.csv", **limits):
    path = tmp_path / "upload"
    path.write_bytes(content)
    return parse_file(path, filename=filename, workdir=tmp_path, limits=ParseLimits(**limits))


def refused(tmp_path, content: bytes, filename: str = "data.csv", **limits) -> DatasetRejected:
    with pytest.raises(DatasetRejected) as caught:
        parse(tmp_path, content, filename, **limits)
    return caught.value


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", ("csv", "")),
        ("A.CSV", ("csv", "")),
        ("a.tsv", ("tsv", "")),
        ("a.txt", ("csv", "")),
        ("a.parquet", ("parquet", "")),
        ("a.csv.gz", ("csv", "gzip")),
        ("a.tsv.GZ", ("tsv", "gzip")),
        ("a.parquet.gz", ("parquet", "gzip")),
    ],
)
def test_detect_format(name, expected):
    assert detect_format(name) == expected


@pytest.mark.parametrize("name", ["a.xlsx", "a.json", "a", "a.gz", "a.csv.zip", ""])
def test_unsupported_names(name):
    with pytest.raises(DatasetRejected) as caught:
        detect_format(name)
    assert caught.value.code == "unsupported_type"
    assert "Upload one of" in caught.value.message


def test_types_are_inferred(tmp_path):
    parsed = parse(
        tmp_path,
        b"i,f,b,d,t,s\n1,1.5,true,2024-01-02,2024-01-02T03:04:05,x\n2,,false,2024-02-03,,y\n",
    )
    types = {f.name: str(f.type) for f in parsed.table.schema}
    assert types == {
        "i": "int64",
        "f": "double",
        "b": "bool",
        "d": "date32[day]",
        "t": "timestamp[s]",
        "s": "string",
    }
    assert parsed.table.column("f").null_count == 1


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["01", "02", "10"], ["01", "02", "10"]),  # zero-padded codes
        (["TRUE", "FALSE", "TRUE"], ["TRUE", "FALSE", "TRUE"]),
        (["True", "False", "True"], ["True", "False", "True"]),  # how pandas writes bools
        (["+1", "-1", "+1"], ["+1", "-1", "+1"]),
        (["1", "2", "007"], ["1", "2", "007"]),
        (["0.5", "01.5", "2"], ["0.5", "01.5", "2"]),
    ],
)
def test_text_that_a_conversion_would_change_is_kept(tmp_path, cells, expected):
    content = "label,n\n" + "".join(f"{cell},{i}\n" for i, cell in enumerate(cells))
    table = parse(tmp_path, content.encode()).table
    assert table.column("label").type == pa.string()
    assert table.column("label").to_pylist() == expected
    assert table.column("n").type == pa.int64()


def test_a_padded_code_keeps_its_column_text_in_a_typed_read(tmp_path, monkeypatch):
    import datasets.parsing as parsing

    # A big file: column types come from a sample, which must not undo the text rule.
    monkeypatch.setattr(parsing, "TYPED_READ_MIN_BYTES", 0)
    monkeypatch.setattr(parsing, "TYPE_SAMPLE_BYTES", 64)
    rows = "".join(f"{i % 9 + 1:02d},{i}\n" for i in range(200))
    table = parse(tmp_path, ("code,n\n" + rows).encode()).table
    assert table.column("code").type == pa.string()
    assert table.column("code").to_pylist()[:3] == ["01", "02", "03"]
    assert table.column("n").type == pa.int64()


def test_crlf_and_padded_header_names(tmp_path):
    parsed = parse(tmp_path, b" age , sex ,\r\n1,F,\r\n2,M,\r\n")
    assert parsed.table.column_names == ["age", "sex", "column_3"]
    assert parsed.table.column("sex").to_pylist() == ["F", "M"]


def test_missing_value_markers_become_nulls(tmp_path):
    parsed = parse(tmp_path, b"a,b\nNA,x\n,\n3,NULL\n")
    assert parsed.table.column("a").to_pylist() == [None, None, 3]
    assert parsed.table.column("b").to_pylist() == ["x", None, None]


def test_utf16_with_bom(tmp_path):
    parsed = parse(tmp_path, "name\tcity\nZoë\tMünchen\n".encode("utf-16"), "x.tsv")
    assert parsed.encoding == "utf-16"
    assert parsed.table.to_pylist() == [{"name": "Zoë", "city": "München"}]


def test_cp1252_euro_sign(tmp_path):
    parsed = parse(tmp_path, "item,price\nA,5 €\n".encode("cp1252"))
    assert parsed.encoding == "cp1252"
    assert parsed.table.column("price").to_pylist() == ["5 €"]


def test_quoted_line_breaks_inside_and_beyond_the_sample(tmp_path):
    early = parse(tmp_path, b'note,n\n"two\nlines",1\nplain,2\n')
    assert early.table.column("note").to_pylist() == ["two\nlines", "plain"]
    late = b"note,n\n" + b"plain,1\n" * 40_000 + b'"two\nlines",2\n'
    parsed = parse(tmp_path, late)
    assert parsed.table.num_rows == 40_001
    assert parsed.table.column("note")[-1].as_py() == "two\nlines"


def test_all_text_first_row_is_a_header(tmp_path):
    parsed = parse(tmp_path, b"name,city\nann,oslo\nbob,rome\n")
    assert parsed.has_header and parsed.table.column_names == ["name", "city"]


def test_single_numeric_line_is_data():
    dialect = sniff_text(b"1,2,3\n", at_eof=True)
    assert not dialect.has_header
    assert dialect.column_names == ["column_1", "column_2", "column_3"]


def test_ragged_row_in_a_big_file_names_the_problem(tmp_path):
    content = b"a,b\n" + b"1,2\n" * 1_500_000 + b"3,4,5\n"  # > 4 MiB: parsed on threads
    problem = refused(tmp_path, content)
    assert problem.code == "ragged_rows"
    assert "3 fields" in problem.message and "'3,4,5'" in problem.message


def test_long_column_names_are_refused(tmp_path):
    problem = refused(tmp_path, ("x" * 300 + ",b\n1,2\n").encode())
    assert problem.code == "column_name_too_long"


def test_column_limit_is_a_setting(tmp_path):
    assert parse(tmp_path, b"a,b,c\n1,2,3\n", max_columns=3).table.num_columns == 3
    assert refused(tmp_path, b"a,b,c\n1,2,3\n", max_columns=2).code == "too_many_columns"


def test_gzip_of_parquet(tmp_path):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [1, 2]}), sink)
    parsed = parse(tmp_path, gzip.compress(sink.getvalue().to_pybytes()), "x.parquet.gz")
    assert (parsed.format, parsed.compression) == ("parquet", "gzip")
    assert parsed.table.column("a").to_pylist() == [1, 2]


def test_gzip_content_under_a_plain_name_is_decompressed(tmp_path):
    parsed = parse(tmp_path, gzip.compress(b"a,b\n1,2\n"), "x.csv")
    assert parsed.compression == "gzip" and parsed.table.num_rows == 1


def test_empty_gzip(tmp_path):
    assert refused(tmp_path, gzip.compress(b""), "x.csv.gz").code == "empty_file"


def test_parquet_footer_larger_than_allowed(tmp_path):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({f"c{i}": [1] for i in range(50)}), sink)
    problem = refused(
        tmp_path, sink.getvalue().to_pybytes(), "x.parquet", max_parquet_footer_bytes=512
    )
    assert problem.code == "invalid_parquet" and "claims" in problem.message


def test_parquet_unpacking_beyond_the_cap(tmp_path):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [0] * 100_000}), sink)
    problem = refused(
        tmp_path, sink.getvalue().to_pybytes(), "x.parquet", max_decompressed_bytes=10_000
    )
    assert problem.code == "decompressed_too_large"


def test_truncated_parquet(tmp_path):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": list(range(1000))}), sink)
    data = sink.getvalue().to_pybytes()
    problem = refused(tmp_path, data[:4] + data[200:], "x.parquet")
    assert problem.code == "invalid_parquet"


def test_normalise_decodes_and_cleans():
    table = pa.table(
        {
            "cat": pa.array(["a", "b", "a"]).dictionary_encode(),
            "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-2")]),
            "raw": pa.array([b"x", b"\xc3\xbc", None], pa.binary()),
            "big": pa.array(["p", "q", "r"], pa.large_string()),
            "nan": pa.array([1.0, float("nan"), None]),
            "none": pa.nulls(3),
        }
    )
    clean = normalise_table(table, limits=ParseLimits())
    assert {f.name: str(f.type) for f in clean.schema} == {
        "cat": "string",
        "dec": "double",
        "raw": "string",
        "big": "string",
        "nan": "double",
        "none": "string",
    }
    assert clean.column("raw").to_pylist() == ["x", "ü", None]
    assert clean.column("nan").to_pylist() == [1.0, None, None]
    assert clean.column("dec").to_pylist() == [1.25, None, -2.0]


def test_binary_that_is_not_text_is_refused():
    table = pa.table({"blob": pa.array([b"\xff\xfe"], pa.binary())})
    with pytest.raises(DatasetRejected) as caught:
        normalise_table(table, limits=ParseLimits())
    assert caught.value.code == "binary_column" and "'blob'" in caught.value.message


@pytest.fixture
def typed_reads(monkeypatch):
    """Big-file mode on small files: column types from the first ~1 KB."""
    from datasets import parsing

    monkeypatch.setattr(parsing, "TYPED_READ_MIN_BYTES", 0)
    monkeypatch.setattr(parsing, "TYPE_SAMPLE_BYTES", 1024)
    calls = []
    real = parsing.pcsv.read_csv

    def spy(source, **options):
        calls.append(options["convert_options"].column_types)
        return real(source, **options)

    monkeypatch.setattr(parsing.pcsv, "read_csv", spy)
    return calls


def test_typed_read_uses_the_sample_types(tmp_path, typed_reads):
    parsed = parse(tmp_path, b"n,x,empty\n" + b"1,2.5,\n" * 500)
    assert [f.type for f in parsed.table.schema] == [pa.int64(), pa.float64(), pa.string()]
    # the sample read as text (zero-padded numbers), then with types, then the full read
    # with its types (the all-empty column inferred)
    assert len(typed_reads) == 3
    assert set(typed_reads[2]) == {"n", "x"}


@pytest.mark.parametrize(
    ("late_row", "column", "expected_type", "expected_value"),
    [
        (b"2.5,x,2024-01-01,\n", "n", pa.float64(), 2.5),
        (b"3,x,2024-01-01 10:00:00,\n", "d", pa.timestamp("s"), "2024-01-01 10:00:00"),
        (b"4,x,2024-01-01,7\n", "late", pa.int64(), 7),
    ],
)
def test_values_that_do_not_fit_the_sample_types_fall_back_to_inference(
    tmp_path, typed_reads, late_row, column, expected_type, expected_value
):
    content = b"n,s,d,late\n" + b"1,x,2024-01-01,\n" * 200 + late_row
    table = parse(tmp_path, content).table
    assert table.schema.field(column).type == expected_type
    last = table.column(column)[-1].as_py()
    assert str(last) == str(expected_value)
    assert table.num_rows == 201


def test_late_latin1_in_a_typed_read(tmp_path, typed_reads):
    content = b"name,n\n" + b"ascii,1\n" * 300 + "Zoë,2\n".encode("latin-1")
    parsed = parse(tmp_path, content)
    assert parsed.encoding == "cp1252"
    assert parsed.table.column("name")[-1].as_py() == "Zoë"
