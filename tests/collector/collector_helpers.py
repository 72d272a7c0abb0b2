"""Helpers shared by the collector tests."""

from __future__ import annotations

from typing import Any

from storage import Store


def read_spans(store: Store, where: str = "1", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Stored spans with times as integer nanoseconds, ordered by span id."""
    return store.rows(
        "SELECT *, toUnixTimestamp64Nano(Timestamp) AS StartNs, "
        "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventNs "
        f"FROM otel_traces WHERE {where} ORDER BY SpanId",
        params or {},
    )
