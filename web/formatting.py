"""Template filters: times, durations and numbers as people read them."""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime

from kpis.policy import format_duration


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fmt_datetime(value: datetime | None) -> str:
    """``2026-11-26 14:03:07 UTC``; ClickHouse hands back naive UTC."""
    if value is None:
        return "-"
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return as_utc(value).strftime("%m-%d %H:%M:%S")


fmt_duration = format_duration  # the one duration format: "2d 10h", "2h 05m", "4m 10s", "850 ms"


def fmt_number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def fmt_percent(value: float | None, digits: int = 1) -> str:
    """A ratio 0..1 as a percentage."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.{digits}f}%"


# -- exception types in URLs ----------------------------------------------------------------------
# Exception types come from spans, so they may hold any text ("stock out/west", quotes, emoji).
# A type made of safe characters is used as is in URLs; any other is sent as "~" + base64url of
# its UTF-8 bytes, so every listed exception can be opened, assigned and resolved. The value only
# ever reaches ClickHouse as a bound parameter.
PLAIN_EXCEPTION_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
EXCEPTION_REF_PATTERN = r"^(?:[A-Za-z0-9_.:-]{1,100}|~[A-Za-z0-9_-]{1,22000})$"
MAX_EXCEPTION_TYPE_LENGTH = 16384


def exception_ref(exception_type: object) -> str:
    """The URL path segment naming ``exception_type`` (see :func:`exception_type_of`)."""
    text = str(exception_type)
    if PLAIN_EXCEPTION_TYPE.match(text):
        return text
    return "~" + base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def exception_type_of(ref: str) -> str:
    """The exception type a path segment names; ValueError when the encoding is broken."""
    if not ref.startswith("~"):
        return ref
    body = ref[1:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the exception reference is not valid base64url UTF-8") from None
    if not text or len(text) > MAX_EXCEPTION_TYPE_LENGTH:
        raise ValueError(f"an exception type has 1-{MAX_EXCEPTION_TYPE_LENGTH} characters")
    return text


def fmt_quantity(value: float | None, unit: str = "number") -> str:
    """A rule's value in its unit: seconds as a duration, ratios as a percentage, counts whole."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "seconds":
        return fmt_duration(value)
    if unit == "ratio":
        return fmt_percent(value)
    if unit == "count":
        return f"{round(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else fmt_number(value)
