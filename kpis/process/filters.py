"""Which orders a process view or export covers: a time range of first hops and segment values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storage.errors import TowerError

# ClickHouse's DateTime64(9) covers 1900-01-01 .. 2262-04-11; the order-keyed table holds nothing
# before the epoch.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 4, 11, tzinfo=UTC)
MAX_RANGE = timedelta(days=400)
MAX_VALUE_LENGTH = 200
SEGMENT_FIELDS = ("channel", "region", "erp", "warehouse", "customer_tier")
_VALUE = re.compile(r"^[^\x00-\x1f\x7f]*$")


class FilterError(TowerError, ValueError):
    """A process filter is invalid (bad or too long a range, a bad segment value); says which."""


class ProcessFilter(BaseModel):
    """Orders whose first hop started in [start, end) and whose segment matches every value given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime
    channel: str = Field(default="", description="order.channel, e.g. edi")
    region: str = Field(default="", description="order.region")
    erp: str = Field(default="", description="the ERP instance (system of the first erp hop)")
    warehouse: str = Field(default="", description="warehouse.id")
    customer_tier: str = Field(default="", description="customer.tier")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST <= value <= LATEST:
            raise ValueError(
                f"{value.isoformat()} is outside {EARLIEST.date()} .. {LATEST.date()} (what the store can hold)"
            )
        return value.astimezone(UTC)

    @field_validator(*SEGMENT_FIELDS)
    @classmethod
    def _value(cls, value: str) -> str:
        if len(value) > MAX_VALUE_LENGTH:
            raise ValueError(f"at most {MAX_VALUE_LENGTH} characters")
        if not _VALUE.match(value):
            raise ValueError("control characters are not allowed")
        return value

    @model_validator(mode="after")
    def _range(self) -> ProcessFilter:
        if self.end <= self.start:
            raise ValueError(
                f"the range must end after it starts (from {self.start.isoformat()} to {self.end.isoformat()})"
            )
        if self.end - self.start > MAX_RANGE:
            raise ValueError(
                f"the range is {(self.end - self.start).days} days; at most {MAX_RANGE.days} days at once"
            )
        return self

    def parameters(self) -> dict[str, Any]:
        """Bound parameters of ``cases.sql`` (naive UTC, as the engine compares DateTime64)."""
        return {
            "start": self.start.replace(tzinfo=None),
            "end": self.end.replace(tzinfo=None),
            **{name: getattr(self, name) for name in SEGMENT_FIELDS},
        }

    def segment(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SEGMENT_FIELDS if getattr(self, name)}


def make_filter(**values: Any) -> ProcessFilter:
    """A filter from loose values (CLI options, query parameters); errors as :class:`FilterError`."""
    try:
        return ProcessFilter.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise FilterError(
            "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'filter'}: {e['msg'].removeprefix('Value error, ')}"
                if e["type"] != "extra_forbidden"
                else f"unknown filter {'.'.join(str(p) for p in e['loc'])!r}; filters: start, end, "
                + ", ".join(SEGMENT_FIELDS)
                for e in exc.errors()
            )
        ) from None
