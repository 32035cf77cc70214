"""Column statistics, identifier (PHI) warnings and target suggestions for an Arrow table.

Pure: no Django. Computed once at ingest with pyarrow compute (one worker thread per
column; the kernels release the GIL) and stored as JSON on the Dataset row, so every
value here is JSON-safe (NaN and infinities become None, dates ISO strings).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOP_N = 10
CATEGORICAL_MAX_UNIQUE = 50
CLASSIFICATION_MAX_UNIQUE = 20
MAX_SUGGESTED_TARGETS = 5
UNIQUE_PER_ROW_MIN_ROWS = 20
CONTENT_SAMPLE = 500
TOP_PROBE_ROWS = 10_000
TOP_PROBE_MAX_DISTINCT = 1_000

TARGET_NAME = re.compile(
    r"(^|_)(target|label|labels|outcome|class|diagnosis|y|response|result|status|death|died|"
    r"mortality|survival|survived|event|readmit\w*|readmission|progression|disease|churn)(_|$)"
)
# (pattern on the snake_cased column name, reason shown to the user)
IDENTIFIER_NAMES = (
    (
        r"(^|_)(first|last|given|family|middle|full|patient|maiden|sur|fore)_?name(_|$)"
        r"|^name$|(^|_)(surname|forename|initials)(_|$)",
        "the column name suggests a person's name",
    ),
    (
        r"(^|_)(mrn|ssn|nhs|nino|medicare|medicaid|passport|insee|ahv|bsn)(_|$)"
        r"|medical_record|record_(number|no|id)|social_security|insurance_(id|number|no)"
        r"|(patient|subject|person|member|participant)_(id|number|no|key)|national_id"
        r"|health_(id|card|number)",
        "the column name suggests a patient or record identifier",
    ),
    (r"(^|_)(phone|telephone|tel|mobile|cell|fax)(_|$)", "the column name suggests a phone number"),
    (r"(^|_)e_?mail(_|$)", "the column name suggests an e-mail address"),
    (
        r"(^|_)(dob|birth_?date|date_of_birth|birthday|born(_on)?)(_|$)",
        "the column name suggests an exact date of birth",
    ),
    (
        r"(^|_)(address|street|postcode|post_code|zip|zipcode|zip_code|postal_code)(_|$)",
        "the column name suggests a postal address",
    ),
)
GENERIC_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|identifier|key)$")
IDENTIFIER_VALUES = (
    (re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"), 0.8, "values look like e-mail addresses"),
    (re.compile(r"^\d{3}-\d{2}-\d{4}$"), 0.8, "values look like social security numbers"),
    (
        re.compile(r"^(\+|00)?[\d]{0,3}[\s.-]?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}$"),
        0.8,
        "values look like phone numbers",
    ),
)
RECORD_NUMBER = re.compile(r"^[A-Za-z]{0,4}[-_ /]?\d{5,12}$")


def profile_table(table: pa.Table, *, max_workers: int | None = None) -> dict[str, Any]:
    """The stored profile: {rows, n_columns, columns: [...], suggested_targets: [...]}."""
    rows = table.num_rows
    workers = max(1, min(max_workers or os.cpu_count() or 1, table.num_columns, 16))
    names = table.column_names
    if workers == 1 or table.num_columns < 2:
        columns = [column_profile(n, table.column(n), rows) for n in names]
    else:
        # The costliest first (text: hashing every value), so that no long column
        # starts last and runs on alone while the other threads have finished.
        order = sorted(range(len(names)), key=lambda i: -_expected_cost(table.column(i)))
        columns = [None] * len(names)
        with ThreadPoolExecutor(workers, thread_name_prefix="profile") as pool:
            profiled = pool.map(lambda i: column_profile(names[i], table.column(i), rows), order)
            for i, profile in zip(order, profiled, strict=True):
                columns[i] = profile
    return {
        "rows": rows,
        "n_columns": table.num_columns,
        "columns": columns,
        "suggested_targets": suggest_targets(columns),
    }


def _expected_cost(column: pa.ChunkedArray) -> int:
    """Roughly how long a column's profile takes, to start the long ones first."""
    weight = 8 if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) else 1
    return weight * column.nbytes


def column_profile(name: str, column: pa.ChunkedArray, rows: int) -> dict[str, Any]:
    kind_of = column.type
    missing = column.null_count
    present = rows - missing
    profile: dict[str, Any] = {
        "name": name,
        "dtype": str(kind_of),
        "kind": "",
        "count": present,
        "missing": missing,
        "missing_fraction": round(missing / rows, 6) if rows else 0.0,
        "unique": 0,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "top": [],
        "likely_identifier": False,
        "identifier_reason": None,
    }
    numeric = pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of)
    temporal = pa.types.is_temporal(kind_of)
    counted = None
    if not present:
        unique = 0
    elif _probably_few_values(column):
        # One hash pass gives both the distinct count and the most frequent values.
        counted = pc.value_counts(column)
        unique = len(counted) - int(counted.field(0).null_count > 0)
    else:
        unique = _distinct(column)
        if pa.types.is_floating(kind_of) and unique <= CLASSIFICATION_MAX_UNIQUE:
            counted = pc.value_counts(column)
    profile["unique"] = unique
    if (numeric or temporal) and present:
        bounds = pc.min_max(column)
        profile["min"] = json_value(bounds["min"].as_py())
        profile["max"] = json_value(bounds["max"].as_py())
    if numeric and present:
        profile["mean"] = json_value(pc.mean(column).as_py())
        profile["std"] = json_value(pc.stddev(column, ddof=1).as_py()) if present > 1 else None
    if pa.types.is_boolean(kind_of):
        profile["kind"] = "boolean"
    elif numeric:
        profile["kind"] = "numeric"
    elif temporal:
        profile["kind"] = "datetime"
    elif unique <= CATEGORICAL_MAX_UNIQUE:
        profile["kind"] = "categorical"
    else:
        profile["kind"] = "text"
    if (
        counted is not None
        and unique < present
        and (not numeric or unique <= CATEGORICAL_MAX_UNIQUE)
    ):
        profile["top"] = _top_values(counted)
    reason = identifier_reason(name, column, profile, rows)
    profile["likely_identifier"] = reason is not None
    profile["identifier_reason"] = reason
    return profile


def _probably_few_values(column: pa.ChunkedArray) -> bool:
    """Whether counting every value (for `top`) is worth it: text, flags and integer
    codes whose first rows repeat. Continuous numbers and free text only get counted."""
    kind = column.type
    if pa.types.is_boolean(kind):
        return True
    if not (pa.types.is_string(kind) or pa.types.is_integer(kind)):
        return False
    head = column.slice(0, TOP_PROBE_ROWS)
    return _distinct(head) <= TOP_PROBE_MAX_DISTINCT


def _distinct(column: pa.ChunkedArray) -> int:
    if column.null_count == 0 and _strictly_increasing(column):
        return len(column)  # sorted record numbers: distinct without hashing a million values
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return _distinct_numbers(column)
    # pc.unique is a plain hash pass, cheaper than count_distinct's aggregation.
    values = pc.unique(column)
    return len(values) - int(values.null_count > 0)


def _distinct_numbers(column: pa.ChunkedArray) -> int:
    """Distinct non-null numbers, counted by sorting: numpy's vectorised sort takes about
    15 ms for a million doubles where Arrow's hash takes 100 ms (the hash table of a
    continuous column outgrows the caches). Counted as Arrow's hash counts them: the
    values' bits, all NaNs one value (so 0.0 and -0.0 are two)."""
    values = pc.drop_null(column).to_numpy()
    if not len(values):
        return 0
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        if nan.any():
            values = np.where(nan, np.nan, values)
        values = values.view(f"i{values.dtype.itemsize}")
    if values.flags.writeable:  # a copy already (chunks joined, nulls dropped): in place
        values.sort()
    else:
        values = np.sort(values)
    return 1 + int(np.count_nonzero(values[1:] != values[:-1]))


def _strictly_increasing(column: pa.ChunkedArray) -> bool:
    kind = column.type
    if len(column) < 2 or not (pa.types.is_string(kind) or pa.types.is_integer(kind)):
        return False
    if not pc.less(column[0], column[1]).as_py():
        return False  # the common case costs one comparison
    return pc.all(pc.less(column.slice(0, len(column) - 1), column.slice(1))).as_py()


def _top_values(counted: pa.StructArray) -> list[dict[str, Any]]:
    values, counts = counted.field(0), counted.field(1)
    if values.null_count:
        keep = pc.is_valid(values)
        values, counts = values.filter(keep), counts.filter(keep)
    order = pc.select_k_unstable(
        pa.table({"c": counts}), k=min(TOP_N, len(counts)), sort_keys=[("c", "descending")]
    )
    chosen = sorted(
        zip(values.take(order).to_pylist(), counts.take(order).to_pylist(), strict=True),
        key=lambda vc: (-vc[1], str(vc[0])),
    )
    return [{"value": json_value(v), "count": c} for v, c in chosen]


def snake_name(name: str) -> str:
    """`PatientID` and `patient-id` both become `patient_id`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def identifier_reason(
    name: str, column: pa.ChunkedArray, profile: dict[str, Any], rows: int
) -> str | None:
    """Why this column probably identifies a person (PHI), or None.

    The values decide, by pattern and uniqueness; a name is only a hint that must be
    borne out by them. A column named like an identifier (`mrn`, `patient_id`,
    `first_name`, `address`) is flagged when most of its values are distinct, one
    named like a birth date when it holds dates; e-mail, social security, phone and
    record-number patterns and a value unique to every row are flagged whatever the
    column is called. So `ward_id`, `visit_no` or `test_name`, whose values repeat,
    stay features.
    """
    snake = snake_name(name)
    present = rows - profile["missing"]
    if not present:
        return None
    unique_ratio = profile["unique"] / present
    hint = next((reason for pattern, reason in IDENTIFIER_NAMES if re.search(pattern, snake)), None)
    if hint is None and GENERIC_ID_NAME.search(snake):
        hint = "the column name suggests an identifier"
    if hint is not None:
        if "date of birth" in hint:
            if profile["kind"] == "datetime" and profile["unique"] > 1:
                return f"{hint} and its values are dates"
        elif unique_ratio >= 0.5 and profile["kind"] != "boolean" and profile["unique"] > 1:
            return f"{hint} and most values are distinct"
    if not pa.types.is_string(column.type):
        return _unique_per_row(profile, present)
    sample = [v for v in _head(column, CONTENT_SAMPLE) if v is not None and v.strip()]
    if sample:
        for pattern, share, reason in IDENTIFIER_VALUES:
            if sum(bool(pattern.match(v.strip())) for v in sample) >= share * len(sample):
                return reason
        looks_numbered = sum(bool(RECORD_NUMBER.match(v.strip())) for v in sample)
        if looks_numbered >= 0.9 * len(sample) and unique_ratio >= 0.9:
            return (
                "values look like record numbers (a short prefix and digits, nearly all distinct)"
            )
    return _unique_per_row(profile, present)


def _unique_per_row(profile: dict[str, Any], present: int) -> str | None:
    """Text unique to every row can single out a person; a number cannot be told from a
    measurement that happens not to repeat, so only its name (above) flags it."""
    if profile["kind"] not in ("text", "categorical"):
        return None
    if present >= UNIQUE_PER_ROW_MIN_ROWS and profile["unique"] == present:
        return "every value is different (unique per row), so it can single out a person"
    return None


def _head(column: pa.ChunkedArray, n: int) -> list:
    return column.slice(0, n).to_pylist()


def infer_task(profile: dict[str, Any]) -> str | None:
    """classification, regression, or None when the column cannot be a target."""
    unique, kind = profile["unique"], profile["kind"]
    if unique < 2 or kind in ("datetime", "text"):
        return None
    if kind in ("boolean", "categorical"):
        return "classification"
    if profile["dtype"].startswith(("int", "uint")):
        # Few distinct codes (0/1, grades 1..5) are classes; counts and ages are quantities.
        few = unique <= CLASSIFICATION_MAX_UNIQUE and unique * 2 <= profile["count"]
        return "classification" if few or unique == 2 else "regression"
    return "classification" if unique == 2 else "regression"


def suggest_targets(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Likely prediction targets, best first: named like one, last column, binary."""
    scored = []
    for position, profile in enumerate(columns):
        task = infer_task(profile)
        if task is None or profile["likely_identifier"] or profile["missing_fraction"] > 0.5:
            continue
        reasons, score = [], 0
        if TARGET_NAME.search(snake_name(profile["name"])):
            score += 4
            reasons.append("named like a target")
        if position == len(columns) - 1:
            score += 2
            reasons.append("last column")
        if profile["unique"] == 2:
            score += 2
            reasons.append("binary")
        elif task == "classification":
            score += 1
            reasons.append(f"{profile['unique']} classes")
        else:
            reasons.append("continuous numbers")
        scored.append((score, position, profile, task, reasons))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        {
            "column": profile["name"],
            "task": task,
            "classes": profile["unique"] if task == "classification" else None,
            "reason": ", ".join(reasons),
        }
        for _, _, profile, task, reasons in scored[:MAX_SUGGESTED_TARGETS]
    ]


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: NaN/inf -> None, dates -> ISO 8601, decimals -> float."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return json_value(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
