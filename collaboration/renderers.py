"""CSV downloads of the API's tables, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import math
import re

from rest_framework.renderers import BaseRenderer

# OWASP "CSV injection": a cell starting with one of these is a formula to Excel,
# LibreOffice and Google Sheets (tab and carriage return as well, which some strip first).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int | float:
    """One cell: numbers as they are, None and NaN empty, text that a spreadsheet
    would run as a formula prefixed with a single quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "" if isinstance(value, float) and not math.isfinite(value) else value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def attachment_filename(stem: str, suffix: str = ".csv") -> str:
    """A Content-Disposition file name built from `stem`: [A-Za-z0-9._-] only."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:100] or "export"
    return safe + suffix


class CSVRenderer(BaseRenderer):
    """`?format=csv`: renders `{"columns": [...], "rows": [[...], ...]}` as a CSV
    attachment; the file name is the view's `csv_filename`. An error body (a dict
    without `rows`) becomes rows of `field,message`, so the client still reads why."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        view = renderer_context.get("view")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if isinstance(data, dict) and "rows" in data and "columns" in data:
            writer.writerow([csv_cell(c) for c in data["columns"]])
            writer.writerows([csv_cell(v) for v in row] for row in data["rows"])
            if response is not None and not response.exception:
                name = getattr(view, "csv_filename", None) or "export.csv"
                response["Content-Disposition"] = f'attachment; filename="{name}"'
        elif data is not None:
            writer.writerow(["field", "message"])
            items = data.items() if isinstance(data, dict) else [("detail", data)]
            for field, message in items:
                writer.writerow([csv_cell(field), csv_cell(message)])
        return out.getvalue().encode(self.charset)
