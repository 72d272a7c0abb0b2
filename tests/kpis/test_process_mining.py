"""Process mining on traffic sent with the plain OpenTelemetry SDK through the real collector:
the directly-follows map, variants, conformance, and the OCEL 2.0 / XES exports read back by pm4py
(a test-only dependency, AGPL: never imported by the tower itself)."""

from __future__ import annotations

import io
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from clock import ANCHOR
from support.sdk_orders import MINUTE_NS, SECOND_NS, Sender, hop, mixed_traffic, ns

from collector.testing import running_collector
from kpis.policy import load_policy
from kpis.process import conformance, mining, ocel
from kpis.process.filters import FilterError, ProcessFilter, make_filter
from kpis.process.paths import refresh_paths
from storage import Store

START = ANCHOR - timedelta(days=5)
FLT = make_filter(start=START - timedelta(days=1), end=ANCHOR + timedelta(days=3))
HOSTILE = "<&\"'> ]]> \x01 é \\ \t tab\nline"
# the module's traffic goes through a real collector, one span per request: slow on a busy machine
pytestmark = pytest.mark.timeout(1200)


def at(minutes: float) -> int:
    return ns(START) + int(minutes * MINUTE_NS)


def send_path(sender: Sender, order_id: str, steps: list[tuple[str, str, float, dict[str, Any]]]) -> None:
    """One span per hop: (stage, system, start minute, extra attributes); each lasts 1 s."""
    for stage, system, minute, extra in steps:
        kind = "erp" if system.startswith("erp") else system.split("-")[0]
        attrs = hop(stage, system, kind, **{"order.id": order_id, "order.channel": "portal", **extra})
        sender.span(system, f"{stage} {order_id}", at(minute), at(minute) + SECOND_NS, attrs)


SCENARIO = {
    # the expected path, twice
    "SO-P1": [("capture", "b2b-portal", 0, {}), ("validation", "middleware", 10, {}), ("credit", "erp-east", 30, {}),
              ("pricing", "erp-east", 40, {}), ("allocation", "erp-east", 50, {}), ("pick", "wms", 70, {}),
              ("pack", "wms", 80, {}), ("ship", "wms", 100, {}), ("invoice", "finance", 130, {})],
    "SO-P2": [("capture", "b2b-portal", 1, {}), ("validation", "middleware", 21, {}), ("credit", "erp-east", 51, {}),
              ("pricing", "erp-east", 61, {}), ("allocation", "erp-east", 71, {}), ("pick", "wms", 91, {}),
              ("pack", "wms", 101, {}), ("ship", "wms", 121, {}), ("invoice", "finance", 151, {})],
    # a credit hold released by a person: credit -> credit (rework); no allocation before the pick (skipped)
    "SO-P3": [("capture", "b2b-portal", 2, {}), ("validation", "middleware", 12, {}),
              ("credit", "erp-east", 32, {"order.status": "held"}),
              ("credit", "erp-east", 92, {"order.manual_touch": True, "enduser.id": "credit.desk"}),
              ("pricing", "erp-east", 102, {}), ("pick", "wms", 122, {}), ("pack", "wms", 132, {}),
              ("ship", "wms", 152, {}), ("invoice", "finance", 182, {})],
    # invoiced before it shipped (order violation); hostile values in an attribute
    "SO-P4": [("capture", "b2b-portal", 3, {}), ("validation", "middleware", 13, {}), ("credit", "erp-east", 33, {}),
              ("pricing", "erp-east", 43, {}), ("allocation", "erp-east", 53, {}), ("pick", "wms", 73, {}),
              ("pack", "wms", 83, {}), ("invoice", "finance", 93, {"order.status": HOSTILE}),
              ("ship", "wms", 103, {})],
}  # fmt: skip


@pytest.fixture(scope="module")
def traffic(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Independent traffic (plain orders, consolidated invoices, EDI files with a reprocessed PO) plus
    the hand-made scenario, through the real collector; one span of SO-P1 sent twice."""
    with running_collector(module_store, tmp_path_factory.mktemp("process-spool")) as collector:
        sender = Sender(collector.http_endpoint, seed=18)
        try:
            made = mixed_traffic(sender, ns(START) + 10 * 3600 * SECOND_NS, 16, seed=18)
            for order_id, steps in SCENARIO.items():
                send_path(sender, order_id, steps)
            sender.resend([s for s in sender.sent if s.name == "credit SO-P1"])
        finally:
            sender.shutdown()
        assert collector.wait_drained(timeout=600)
    result = refresh_paths(module_store)
    assert result.status == "ok", result.error
    yield [*made, *SCENARIO]


def scenario_filter(**kw: Any) -> ProcessFilter:
    # the scenario's orders start in the first 5 minutes of START; mixed traffic starts hours later
    return make_filter(start=START, end=START + timedelta(minutes=5), **kw)


def test_the_map_counts_what_the_scenario_sent(module_store: Store, traffic: list[str]) -> None:
    pm = mining.process_map(module_store, scenario_filter())
    assert pm.orders == 4
    edges = {(e.source, e.target): e for e in pm.edges}
    credit_pricing = edges[("credit @ erp-east", "pricing @ erp-east")]
    assert (credit_pricing.transitions, credit_pricing.orders) == (4, 4)
    # the rework loop is an edge of its own; the re-sent credit span of SO-P1 counts once
    assert edges[("credit @ erp-east", "credit @ erp-east")].transitions == 1
    nodes = {a.name: a for a in pm.activities}
    assert nodes["credit @ erp-east"].events == 5 and nodes["credit @ erp-east"].orders == 4
    assert nodes["capture @ b2b-portal"].starts == 4
    assert nodes["invoice @ finance"].ends == 3 and nodes["ship @ wms"].ends == 1
    # waits: next start - previous end (each hop lasts 1 s)
    v2c = edges[("validation @ middleware", "credit @ erp-east")]
    waits = [20 * 60 - 1, 30 * 60 - 1, 20 * 60 - 1, 20 * 60 - 1]  # validation -> credit of P1..P4
    assert v2c.median_wait_s == pytest.approx(statistics.median(waits))
    assert v2c.p90_wait_s == pytest.approx(30 * 60 - 1)


def test_filters_narrow_the_map(module_store: Store, traffic: list[str]) -> None:
    everything = mining.process_map(module_store, FLT)
    portal = mining.process_map(module_store, make_filter(start=FLT.start, end=FLT.end, channel="portal"))
    nobody = mining.process_map(module_store, make_filter(start=FLT.start, end=FLT.end, region="atlantis"))
    assert everything.orders == len(traffic)
    assert 4 <= portal.orders < everything.orders
    assert nobody.orders == 0 and nobody.edges == [] and nobody.activities == []


def test_variants_sorted_by_count_with_share_and_their_orders(
    module_store: Store, traffic: list[str]
) -> None:
    result = mining.variants(module_store, scenario_filter())
    assert result.total_orders == 4 and result.total_variants == 3
    top = result.variants[0]
    assert top.orders == 2 and top.share == pytest.approx(0.5)
    assert [v.orders for v in result.variants] == [2, 1, 1]
    orders = mining.case_orders(module_store, scenario_filter(), variant=top.variant_id)
    assert sorted(o.order_id for o in orders) == ["SO-P1", "SO-P2"]
    cycles = sorted(o.cycle_s for o in orders)
    assert top.median_cycle_s == pytest.approx(statistics.median(cycles))
    loop = mining.case_orders(
        module_store, scenario_filter(), source="credit @ erp-east", target="credit @ erp-east"
    )
    assert [o.order_id for o in loop] == ["SO-P3"]


def test_conformance_counts_rework_skips_and_order_violations(
    module_store: Store, traffic: list[str]
) -> None:
    policy = load_policy().process
    summary = conformance.conformance(module_store, scenario_filter(), policy)
    found = {(d.kind, d.detail): d.orders for d in summary.deviations}
    assert found == {
        ("rework", "credit @ erp-east"): 1,
        ("skipped", "allocation"): 1,
        ("order", "invoice before ship"): 1,
    }
    assert (summary.total_orders, summary.deviating_orders) == (4, 2)
    total, listed = conformance.deviating_orders(module_store, scenario_filter(), policy, kind="skipped")
    assert total == 1 and [o.order_id for o in listed] == ["SO-P3"]
    assert ("rework", "credit @ erp-east") in listed[0].deviations
    total, listed = conformance.deviating_orders(
        module_store, scenario_filter(), policy, detail="invoice before ship"
    )
    assert [o.order_id for o in listed] == ["SO-P4"]


# -- exports read back by pm4py ------------------------------------------------------------------


def tower_dfg(store: Store, flt: ProcessFilter) -> dict[tuple[str, str], int]:
    return {(e.source, e.target): e.transitions for e in mining.process_map(store, flt).edges}


def check_ocel(store: Store, flt: ProcessFilter, log: Any) -> None:
    import pm4py

    expected = ocel.counts(store, flt)
    assert len(log.events) == expected.events
    assert len(log.objects) == expected.objects
    assert len(log.relations) == expected.event_objects
    assert len(log.o2o) == expected.object_objects
    flat = pm4py.ocel_flattening(log, "order")
    dfg, _, _ = pm4py.discover_dfg(flat)
    assert dict(dfg) == tower_dfg(store, flt)


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_pm4py_reads_the_ocel_export_and_finds_the_towers_map(
    module_store: Store, traffic: list[str], tmp_path: Path, fmt: str
) -> None:
    import pm4py

    path = tmp_path / f"orders.{fmt}"
    if fmt == "sqlite":
        ocel.write_sqlite(module_store, FLT, path)
        log = pm4py.read_ocel2_sqlite(str(path))
    else:
        with path.open("wb") as out:
            ocel.export(module_store, FLT, fmt, out)
        log = pm4py.read_ocel2_json(str(path)) if fmt == "json" else pm4py.read_ocel2_xml(str(path))
    counts = ocel.counts(module_store, FLT)
    assert counts.events > 100 and counts.object_objects > 0
    check_ocel(module_store, FLT, log)
    types = set(log.objects["ocel:type"])
    assert {"order", "shipment", "tracking_number", "invoice", "customer_po", "batch"} <= types
    assert {"edi_interchange", "edi_transaction_set"} <= types
    # the hostile status value comes back as it was sent (the control character as U+FFFD in XML)
    statuses = set(log.events["status"]) if "status" in log.events else set()
    sent = HOSTILE if fmt != "xml" else HOSTILE.replace("\x01", "\ufffd")
    assert sent in statuses


def test_a_consolidated_invoice_event_links_each_of_its_orders(
    module_store: Store, traffic: list[str], tmp_path: Path
) -> None:
    import pm4py

    path = tmp_path / "orders.json"
    with path.open("wb") as out:
        ocel.export(module_store, FLT, "json", out)
    log = pm4py.read_ocel2_json(str(path))
    relations = log.relations
    orders_per_event = relations[relations["ocel:type"] == "order"].groupby("ocel:eid")["ocel:oid"].nunique()
    assert orders_per_event.max() >= 2  # the EDI file and the middleware batch belong to each order
    o2o = log.o2o
    qualifiers = Counter(o2o["ocel:qualifier"])
    assert qualifiers["ships in"] > 0 and qualifiers["billed by"] > 0 and qualifiers["contains"] > 0


def _json_log(store: Store, flt: ProcessFilter) -> dict[str, dict[str, Any]]:
    out = io.BytesIO()
    ocel.export(store, flt, "json", out)
    log = orjson.loads(out.getvalue())
    parts: dict[str, dict[str, Any]] = {}
    for key in ("objects", "events"):
        items = log[key]
        parts[key] = {
            item["id"]: {**item, "relationships": sorted(map(str, item["relationships"]))} for item in items
        }
        assert len(parts[key]) == len(items), f"an {key[:-1]} written twice"
    return parts


def test_an_export_read_in_small_ranges_of_orders_is_the_same_log(
    module_store: Store, traffic: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exports read the orders range by range (bounded memory): with ranges of 2 orders, a
    batch, an EDI file and a consolidated invoice span several ranges, and still each event and each
    object is written once with every order it relates to; a range whose spans name no object
    (read without looking for them) loses none."""
    import pm4py

    whole = _json_log(module_store, FLT)
    monkeypatch.setattr(ocel, "CHUNK_ORDERS", 2)
    assert len(ocel._ranges(module_store, FLT)) > len(traffic) // 2
    ranged = _json_log(module_store, FLT)
    assert ranged == whole
    # ranges whose spans name objects and ranges exported without the objects' look-up were compared
    probed = ocel._probed(module_store, FLT, ocel._ranges(module_store, FLT))
    assert {part.objects for part in probed} == {True, False}
    shared = [e for e in ranged["events"].values() if sum(r.count("order:") for r in e["relationships"]) > 1]
    assert shared  # events linked to several orders were in the comparison
    path = tmp_path / "ranged.xml"
    with path.open("wb") as out:
        ocel.export(module_store, FLT, "xml", out)
    check_ocel(module_store, FLT, pm4py.read_ocel2_xml(str(path)))
    xes = tmp_path / "ranged.xes"
    with xes.open("wb") as out:
        ocel.write_xes(module_store, FLT, out)
    log = pm4py.read_xes(str(xes))
    assert log["case:concept:name"].nunique() == len(traffic)
    dfg, _, _ = pm4py.discover_dfg(log)
    assert dict(dfg) == tower_dfg(module_store, FLT)


def test_the_json_export_read_a_byte_at_a_time_is_the_same_log(
    module_store: Store, traffic: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine formats the JSON text and the stream carries it as TabSeparated, which escapes its
    backslashes and apostrophes: read one byte at a time, every escape is cut by the end of a chunk,
    and still the log is the same, hostile value included."""
    whole = _json_log(module_store, FLT)
    monkeypatch.setattr(ocel, "READ_BYTES", 1)
    bytewise = _json_log(module_store, FLT)
    assert bytewise == whole
    statuses = {
        a["value"] for e in bytewise["events"].values() for a in e["attributes"] if a["name"] == "status"
    }
    assert HOSTILE in statuses


def test_an_export_read_through_a_plain_stream_is_the_same_text(
    module_store: Store, traffic: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exports take the embedded engine's blocks as they come; a ClickHouse server's stream has
    only read(), and the JSON and XML texts read through it are the same."""

    def exports() -> list[bytes]:
        texts = []
        for fmt in ("json", "xml"):
            out = io.BytesIO()
            ocel.export(module_store, FLT, fmt, out)
            texts.append(out.getvalue())
        return texts

    class ReadOnly:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def __enter__(self) -> ReadOnly:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

        def read(self, size: int) -> bytes:
            data: bytes = self.stream.read(size)
            return data

    # one engine thread: the rows of a range come in the same order every time
    monkeypatch.setattr(
        ocel, "_STREAM_SETTINGS", ocel._STREAM_SETTINGS.replace("max_threads = 2", "max_threads = 1")
    )
    blocks = exports()
    raw_stream = module_store.client.raw_stream
    monkeypatch.setattr(module_store.client, "raw_stream", lambda *a, **kw: ReadOnly(raw_stream(*a, **kw)))
    assert exports() == blocks
    assert b"\\/" in blocks[0]  # the EDI transaction sets' ids, '/' escaped as JSON formats write it


def test_pm4py_reads_the_xes_export_and_finds_the_towers_map(
    module_store: Store, traffic: list[str], tmp_path: Path
) -> None:
    import pm4py

    path = tmp_path / "orders.xes"
    with path.open("wb") as out:
        ocel.write_xes(module_store, FLT, out)
    log = pm4py.read_xes(str(path))
    assert log["case:concept:name"].nunique() == len(traffic)
    dfg, _, _ = pm4py.discover_dfg(log)
    assert dict(dfg) == tower_dfg(module_store, FLT)


# -- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"start": ANCHOR, "end": ANCHOR - timedelta(days=1)}, "must end after it starts"),
        ({"start": ANCHOR, "end": ANCHOR}, "must end after it starts"),
        ({"start": ANCHOR - timedelta(days=3000), "end": ANCHOR}, "at most 400 days"),
        ({"start": datetime(2300, 1, 1, tzinfo=UTC), "end": datetime(2300, 1, 2, tzinfo=UTC)}, "outside"),
        ({"start": "yesterday", "end": ANCHOR}, "start"),
        ({"start": ANCHOR, "end": ANCHOR + timedelta(days=1), "planet": "mars"}, "unknown filter 'planet'"),
        ({"start": ANCHOR, "end": ANCHOR + timedelta(days=1), "channel": "x" * 201}, "at most 200"),
        ({"start": ANCHOR, "end": ANCHOR + timedelta(days=1), "region": "east\x00"}, "control characters"),
    ],
)
def test_bad_filters_get_a_clear_error(values: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        make_filter(**values)


def test_bad_click_throughs_get_a_clear_error(module_store: Store, traffic: list[str]) -> None:
    with pytest.raises(FilterError, match="not a variant id"):
        mining.case_orders(module_store, FLT, variant="'; DROP TABLE order_spans; --")
    with pytest.raises(FilterError, match="both its source and its target"):
        mining.case_orders(module_store, FLT, source="credit @ erp-east")
    with pytest.raises(FilterError, match="limit"):
        mining.variants(module_store, FLT, limit=0)
    with pytest.raises(FilterError, match="unknown deviation kind"):
        conformance.deviating_orders(module_store, FLT, load_policy().process, kind="chaos")


def test_an_empty_range_exports_empty_but_valid_logs(module_store: Store, traffic: list[str]) -> None:
    import json

    empty = make_filter(start=datetime(1972, 1, 1, tzinfo=UTC), end=datetime(1972, 1, 2, tzinfo=UTC))
    out = io.BytesIO()
    ocel.export(module_store, empty, "json", out)
    doc = json.loads(out.getvalue())
    assert doc["objects"] == [] and doc["events"] == [] and doc["eventTypes"] == []
    assert ocel.counts(module_store, empty) == ocel.ExportCounts(0, 0, 0, 0)


def test_deviations_are_an_alert_signal(module_store: Store, traffic: list[str]) -> None:
    from alerts.rules import Rule
    from alerts.signals import evaluate

    policy = load_policy()
    now = ANCHOR + timedelta(days=1)
    rule = Rule.model_validate(
        {
            "name": "process_rework",
            "signal": "process_deviations",
            "params": {"window": "7d", "kind": "rework"},
            "group_by": ["channel"],
            "threshold": 0,
        }
    )
    samples = {s.group["channel"]: s for s in evaluate(module_store, rule, now, policy=policy)}
    window = make_filter(start=now - timedelta(days=7), end=now, channel="portal")
    total, _ = conformance.deviating_orders(module_store, window, policy.process, kind="rework")
    assert samples["portal"].value == total >= 1
    assert "SO-P3" in samples["portal"].orders
    skipped = Rule.model_validate(
        {"name": "skips", "signal": "process_deviations", "params": {"window": "7d", "detail": "allocation"}}
    )
    [sample] = evaluate(module_store, skipped, now, policy=policy)
    assert sample.value >= 1 and "SO-P3" in sample.orders


def test_the_tower_never_imports_pm4py() -> None:
    """pm4py is AGPL: the tests may use it, the product may not (not even lazily)."""
    from test_architecture import ALLOWED, ROOT, imported_packages

    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ALLOWED
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in imported_packages(path)
        if name == "pm4py"
    ]
    assert found == []
