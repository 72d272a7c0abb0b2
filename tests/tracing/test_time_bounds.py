"""Every time comparison is DateTime64 against DateTime64.

The bundled engine skips a part whose smallest DateTime64(9) lies inside the last second of a
DateTime bound (issue 11's reproduction: a single-row part at 15:30:50.5 and ``ts <
toDateTime('…15:30:51')`` counts 0). Spans inserted one request at a time sit in single-row parts, so
every query with a time bound runs here over such parts, each span half a second into its second.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from clock import ANCHOR

from alerts import signals
from alerts.rules import parse_rules
from kpis.jobs import KpiEngine, Window
from kpis.policy import load_policy
from storage import Store
from storage.schema import OTEL_TRACES_COLUMNS
from tracing.attribution import attribute_window
from tracing.crosswalk import fetch_trace_spans
from tracing.timeline import order_timeline

SECOND = ANCHOR.replace(tzinfo=None) - timedelta(days=2, hours=2, minutes=29, seconds=10)  # a whole second
TRACE = "ab" * 16


def _span(n: int, at: datetime, attributes: dict[str, str]) -> list[object]:
    row = {
        "Timestamp": at,
        "TraceId": TRACE,
        "SpanId": f"{n:016x}",
        "ParentSpanId": "",
        "TraceState": "",
        "SpanName": "hop",
        "SpanKind": "Internal",
        "ServiceName": "erp-west",
        "ResourceAttributes": {"service.name": "erp-west"},
        "ScopeName": "t",
        "ScopeVersion": "1",
        "SpanAttributes": attributes,
        "Duration": 100_000_000,
        "StatusCode": "Ok",
        "StatusMessage": "",
        "Events.Timestamp": [],
        "Events.Name": [],
        "Events.Attributes": [],
        "Links.TraceId": [],
        "Links.SpanId": [],
        "Links.TraceState": [],
        "Links.Attributes": [],
    }
    return [row[c] for c in OTEL_TRACES_COLUMNS]


@pytest.fixture
def single_row_parts(store: Store) -> Store:
    """An order's two hops, each inserted alone (a single-row part each): the first at a whole
    second, the second half a second into that second; and a carrier scan with only a tracking
    number 0.5 s into the next second."""
    began = store.now()
    spans = [
        (SECOND, {"order.id": "SO-T1", "order.stage": "capture", "system.kind": "erp"}),
        (
            SECOND + timedelta(milliseconds=500),
            {"order.id": "SO-T1", "order.stage": "allocation", "shipment.tracking_number": "1ZT1"},
        ),
        (
            SECOND + timedelta(milliseconds=1500),
            {"order.stage": "deliver", "shipment.tracking_number": "1ZT1"},
        ),
    ]
    for n, (at, attributes) in enumerate(spans):
        store.insert("otel_traces", [_span(n, at, attributes)], OTEL_TRACES_COLUMNS)
    attribute_window(store, began - timedelta(seconds=1), store.now())
    parts = store.scalar(
        "SELECT groupArray(rows) FROM system.parts WHERE database = currentDatabase() "
        "AND table = 'otel_traces' AND active"
    )
    assert sorted(parts) == [1, 1, 1]
    return store


def test_a_trace_by_id_holds_the_spans_in_its_last_second(single_row_parts: Store) -> None:
    # otel_traces_trace_id_ts keeps DateTime seconds: End = the second of the last span
    spans = fetch_trace_spans(single_row_parts, [TRACE])
    assert sorted(s.span_id for s in spans) == ["0000000000000000", "0000000000000001", "0000000000000002"]


def test_the_timeline_holds_every_hop(single_row_parts: Store) -> None:
    timeline = order_timeline(
        single_row_parts, "SO-T1", as_of=SECOND.replace(tzinfo=UTC) + timedelta(hours=1)
    )
    assert [h.stage for h in timeline.hops] == ["capture", "allocation", "deliver"]


def test_kpi_range_reruns_see_spans_inside_the_bounds_last_second(single_row_parts: Store) -> None:
    engine = KpiEngine(single_row_parts, load_policy())
    start = SECOND.replace(tzinfo=UTC) + timedelta(milliseconds=200)
    result = engine.run("order_facts", Window(start=start, end=start + timedelta(milliseconds=700)))
    assert (result.status, result.rows) == ("ok", 1), result.error
    [fact] = single_row_parts.rows("SELECT HopCount FROM order_facts FINAL WHERE OrderId = 'SO-T1'")
    assert fact["HopCount"] == 3


def test_alert_signals_see_spans_inside_the_bounds_last_second(single_row_parts: Store) -> None:
    rules = parse_rules(
        "rules:\n"
        "  - {name: n, signal: span_count, params: {window: 1h}, op: '>', threshold: 0}\n"
        "  - {name: s, signal: stalled_orders, params: {age: 1m, lookback: 1d, terminal_stages: [invoice]},"
        " op: '>', threshold: 0}\n"
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
    ).rules
    now = SECOND.replace(tzinfo=UTC) + timedelta(milliseconds=1900)  # inside the third span's second
    [count] = signals.evaluate(single_row_parts, rules[0], now)
    assert count.value == 3
    later = SECOND.replace(tzinfo=UTC) + timedelta(minutes=5)
    [stalled] = signals.evaluate(single_row_parts, rules[1], later)
    assert (stalled.value, stalled.orders) == (1.0, ["SO-T1"])


ROOT = Path(__file__).resolve().parents[2]
# every package's query files (ai, alerts, kpis, storage, tracing, tower.bench, web, ...)
SQL_PACKAGES = sorted(
    {
        ".".join(sql.parent.relative_to(ROOT).parts)
        for sql in ROOT.glob("**/queries/*.sql")
        if not sql.relative_to(ROOT).parts[0].startswith((".", "tests"))
    }
)
# interval arithmetic only on a DateTime64 parameter (the result stays DateTime64)
INTERVAL_ON_DATETIME64 = re.compile(r"\{\w+:DateTime64\(\d\)\}\s*[-+]\s*$")


def test_the_static_check_reads_every_packages_queries() -> None:
    assert {"ai.queries", "alerts.queries", "kpis.queries", "tracing.queries", "web.queries"} <= set(
        SQL_PACKAGES
    )


@pytest.mark.parametrize("package", SQL_PACKAGES)
def test_no_query_binds_a_second_granular_time(package: str) -> None:
    """Time parameters are DateTime64 (dates only against Date columns); trace-time bounds, which
    the exporter's table keeps in DateTime seconds, are converted before they bound a DateTime64;
    interval arithmetic is done on DateTime64 parameters only."""
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        assert not re.search(r"\{\w+:DateTime\}", text), entry.name
        for match in re.finditer(r"INTERVAL \d", text):
            assert INTERVAL_ON_DATETIME64.search(text[: match.start()]), (
                entry.name,
                text[match.start() - 60 : match.end()],
            )
        for match in re.finditer(r"\{(\w+):Date\}", text):
            line = text[: match.start()].rsplit("\n", 1)[-1]
            assert re.search(r"\bDay\s*[<>]=?\s*$", line), (entry.name, line)
        if "otel_traces_trace_id_ts" in text:
            assert "toDateTime64(min(Start)" in text and "toDateTime64(max(End)" in text, entry.name
