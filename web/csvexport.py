"""CSV downloads of the dashboard's tables, safe to open in a spreadsheet.

Text cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, after any leading spaces) get a leading apostrophe, as OWASP advises for CSV
injection; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from starlette.responses import Response

from web.formatting import as_utc

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")


def cell(value: Any) -> str | int | float:
    """One value as a CSV cell: numbers as they are, times in ISO 8601 UTC, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A ``text/csv`` download named ``filename`` (reduced to safe characters)."""
    safe = _FILENAME.sub("_", filename).strip("_.") or "export"
    return Response(
        to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )
