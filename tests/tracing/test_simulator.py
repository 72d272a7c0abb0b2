"""The distributor simulator: deterministic, complete use of the conventions, realistic structure."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from enum import StrEnum
from pathlib import Path

import pytest
from clock import ANCHOR
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.testing import running_collector
from storage import Store
from tracing import conventions
from tracing.conventions import Channel, ExceptionOutcome, ExceptionType, Stage
from tracing.instrument import check_attributes
from tracing.records import SpanRecord
from tracing.simulator import DAY, HOUR, ExceptionRates, Simulator, SimulatorConfig
from tracing.sinks import OtlpSink, SinkError, fill_store, write_to_store

END = ANCHOR  # a fixed point of the working week that the store's retention keeps (tests/clock.py)


def simulate(orders: int = 400, days: float = 10, seed: int = 7, **kwargs: object) -> list[SpanRecord]:
    config = SimulatorConfig(orders=orders, days=days, seed=seed, end=END, **kwargs)  # type: ignore[arg-type]
    return list(Simulator(config).generate())


@pytest.fixture(scope="module")
def default_run() -> list[SpanRecord]:
    """Default rates, enough orders that every rare exception happens at least once."""
    return simulate(orders=5000, days=30)


def attribute_values(records: Iterable[SpanRecord], name: str) -> set[str]:
    return {str(r.attributes[name]) for r in records if name in r.attributes}


def hops(records: Iterable[SpanRecord]) -> list[SpanRecord]:
    return [r for r in records if conventions.STAGE in r.attributes]


def test_same_seed_same_spans_and_other_seed_other_spans() -> None:
    first, second, other = simulate(seed=11), simulate(seed=11), simulate(seed=12)
    assert [(r.trace_id, r.span_id, r.start_ns, r.attributes) for r in first] == [
        (r.trace_id, r.span_id, r.start_ns, r.attributes) for r in second
    ]
    assert {r.span_id for r in first}.isdisjoint({r.span_id for r in other})


def test_every_conventions_constant_is_used(default_run: list[SpanRecord]) -> None:
    used_names: set[str] = set()
    for record in default_run:
        used_names.update(record.attributes)
        used_names.update(record.resource)
    constants = {
        name: value
        for name, value in vars(conventions).items()
        if name.isupper() and isinstance(value, str) and "." in value
    }
    unused = {name: value for name, value in constants.items() if value not in used_names}
    assert not unused, f"conventions never emitted by the simulator: {unused}"
    assert set(conventions.KEY_ATTRIBUTES) <= used_names

    by_enum: dict[type[StrEnum], str] = {
        Stage: conventions.STAGE,
        Channel: conventions.CHANNEL,
        conventions.SystemKind: conventions.SYSTEM_KIND,
        conventions.CustomerTier: conventions.CUSTOMER_TIER,
        ExceptionType: conventions.EXCEPTION_TYPE,
        ExceptionOutcome: conventions.EXCEPTION_OUTCOME,
    }
    for enum, attribute in by_enum.items():
        seen = attribute_values(default_run, attribute)
        missing = {str(member) for member in enum} - seen
        assert not missing, f"{attribute} never takes the values {missing}"


def test_hop_spans_follow_the_conventions(default_run: list[SpanRecord]) -> None:
    flagged = [r for r in default_run if conventions.CONVENTION_VIOLATIONS in r.attributes]
    assert flagged, "the legacy poller's malformed spans should be there, flagged"
    for record in flagged:
        problems = record.attributes[conventions.CONVENTION_VIOLATIONS]
        assert isinstance(problems, list)
        assert any("replenish" in p for p in problems)
        assert any("no order.id" in p for p in problems)
    for record in hops(default_run):
        if record in flagged:
            continue
        assert check_attributes(record.attributes) == [], (record.name, record.attributes)


def test_spans_are_well_formed(default_run: list[SpanRecord]) -> None:
    by_span = {(r.trace_id, r.span_id): r for r in default_run}
    assert len(by_span) == len(default_run), "span ids are unique"
    all_spans = {r.span_id for r in default_run}
    for record in default_run:
        assert len(record.trace_id) == 32 and len(record.span_id) == 16
        assert record.end_ns > record.start_ns
        if record.parent_span_id:
            assert (record.trace_id, record.parent_span_id) in by_span, record.name
        for link in record.links:
            assert link.span_id in all_spans
        for event in record.events:
            assert record.start_ns <= event.time_ns <= record.end_ns


def test_channel_mix_and_systems(default_run: list[SpanRecord]) -> None:
    captures = Counter(
        str(r.attributes[conventions.CHANNEL])
        for r in default_run
        if r.attributes.get(conventions.STAGE) == Stage.CREDIT and r.name == "credit check"
    )
    total = sum(captures.values())
    assert total == 5000
    assert 0.40 < captures["edi"] / total < 0.50
    assert 0.30 < captures["ecommerce"] / total < 0.40
    systems = {r.service_name for r in default_run}
    assert {"erp-east", "erp-west", "finance-cloud", "wms", "middleware", "edi-gateway"} <= systems
    assert len({s for s in systems if s.startswith("carrier-")}) == 3
    assert len(attribute_values(default_run, conventions.WAREHOUSE_ID)) >= 4


def test_edi_orders_are_separate_traces_joined_by_keys_and_links(default_run: list[SpanRecord]) -> None:
    by_span = {r.span_id: r for r in default_run}
    translations = [r for r in default_run if r.name == "translate 850"]
    assert translations
    assert all(conventions.ORDER_ID not in r.attributes for r in translations), "no canonical id yet"
    canonical = [r for r in default_run if r.name == "map canonical order"]
    for order_span in canonical:
        linked = [by_span[link.span_id] for link in order_span.links]
        names = {r.name for r in linked}
        assert names & {"translate 850", "reprocess 850"}
        assert all(r.trace_id != order_span.trace_id for r in linked)
        source = next(r for r in linked if r.name in ("translate 850", "reprocess 850"))
        assert (
            source.attributes[conventions.ORDER_CUSTOMER_PO]
            == order_span.attributes[conventions.ORDER_CUSTOMER_PO]
        )
        if "split 850 batch" in names:
            batch = next(r for r in linked if r.name == "split 850 batch")
            listed = batch.attributes[conventions.BATCH_ORDER_IDS]
            assert isinstance(listed, list) and order_span.attributes[conventions.ORDER_ID] in listed


def test_people_work_business_hours_and_count_as_manual_touches(default_run: list[SpanRecord]) -> None:
    touched = [r for r in default_run if r.attributes.get(conventions.MANUAL_TOUCH) is True]
    assert touched
    for record in touched:
        assert record.attributes[conventions.ENDUSER_ID]
        day = record.start_ns // DAY
        assert (day + 3) % 7 < 5, f"{record.name} on a weekend"
        assert 13 * HOUR <= record.start_ns - day * DAY < 22 * HOUR, f"{record.name} outside business hours"


def test_exceptions_open_and_resolve(default_run: list[SpanRecord]) -> None:
    opened: dict[str, set[str]] = defaultdict(set)
    closed: dict[str, set[str]] = defaultdict(set)
    for record in default_run:
        kind = record.attributes.get(conventions.EXCEPTION_TYPE)
        order = record.attributes.get(conventions.ORDER_ID)
        if kind != ExceptionType.CREDIT_HOLD or order is None:
            continue
        if record.attributes[conventions.EXCEPTION_OUTCOME] == ExceptionOutcome.OPENED:
            opened[str(order)].add(record.name)
        else:
            closed[str(order)].add(record.name)
    assert opened
    assert set(opened) == set(closed), "every credit hold is released or cancelled by a person"


def test_zero_rates_give_touchless_orders_and_high_rates_give_exceptions() -> None:
    calm = simulate(
        orders=150,
        rates=ExceptionRates(**dict.fromkeys(ExceptionRates.names(), 0.0)),
        channel_mix={"edi": 1, "ecommerce": 1},
    )
    assert not attribute_values(calm, conventions.EXCEPTION_TYPE)
    assert not [r for r in calm if r.attributes.get(conventions.MANUAL_TOUCH)]

    rates = ExceptionRates(credit_hold=1.0, stockout=1.0, split_shipment=1.0, backorder_cancel=0.0)
    stormy = simulate(orders=60, rates=rates, channel_mix={"ecommerce": 1})
    holds = [r for r in stormy if r.name == "credit check"]
    assert holds and all(r.attributes[conventions.STATUS] == "held" for r in holds)
    shipments: dict[str, set[str]] = defaultdict(set)
    for record in stormy:
        if record.name == "pick":
            shipments[str(record.attributes[conventions.ORDER_ID])].add(
                str(record.attributes[conventions.SHIPMENT_ID])
            )
    lines = {
        str(r.attributes[conventions.ORDER_ID]): r.attributes[conventions.ORDER_LINE_COUNT]
        for r in stormy
        if r.name == "POST /checkout"
    }
    for order, count in lines.items():
        if order in shipments:  # not cancelled at credit review
            assert len(shipments[order]) == (2 if int(count) > 1 else 1), order  # type: ignore[arg-type]


def test_consolidated_invoices_list_several_orders(default_run: list[SpanRecord]) -> None:
    consolidated = [
        r for r in default_run if r.name == "post invoice" and conventions.BATCH_ORDER_IDS in r.attributes
    ]
    assert consolidated
    assert all(len(r.attributes[conventions.BATCH_ORDER_IDS]) >= 2 for r in consolidated)  # type: ignore[arg-type]
    assert all(conventions.ORDER_ID not in r.attributes for r in consolidated)


def test_invalid_config_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="credit_hold must be between 0 and 1"):
        ExceptionRates(credit_hold=1.5)
    with pytest.raises(ValueError, match="unknown channel"):
        SimulatorConfig(channel_mix={"fax": 1.0})
    with pytest.raises(ValueError, match="days must be more than 0 and at most 3660"):
        SimulatorConfig(days=0)


def test_backfill_then_live_releases_each_span_once_when_it_has_ended() -> None:
    config = SimulatorConfig(orders=200, days=5, end=END, live_orders_per_hour=0)
    everything = list(Simulator(config).generate())
    sim = Simulator(config)
    now = config.end_ns
    history = list(sim.backfill(now))
    assert history and all(r.end_ns <= now for r in history)
    assert sim.pending > 0, "orders still in flight at the end of the history"
    later = sim.advance(now + 2 * HOUR)
    assert all(now < r.end_ns <= now + 2 * HOUR for r in later)
    rest = sim.advance(now + 60 * DAY)
    released = history + later + rest
    assert sim.pending == 0
    assert sorted(r.span_id for r in released) == sorted(r.span_id for r in everything)


def test_live_traffic_adds_new_orders() -> None:
    sim = Simulator(SimulatorConfig(orders=20, days=1, end=END, live_orders_per_hour=600))
    now = SimulatorConfig(end=END).end_ns
    list(sim.backfill(now))
    released = sim.advance(now + HOUR)
    new_captures = [
        r for r in released if r.attributes.get(conventions.STAGE) == Stage.CAPTURE and r.start_ns >= now
    ]
    assert len(new_captures) > 100


def test_write_to_store_keeps_every_field_and_fills_the_key_index(store: Store) -> None:
    records = simulate(orders=120, days=5)
    assert write_to_store(store, records) == len(records)
    assert store.scalar("SELECT count() FROM otel_traces") == len(records)
    batch = next(r for r in records if r.name == "split 850 batch")
    row = store.rows(
        "SELECT SpanAttributes, ResourceAttributes, Duration, `Links.SpanId` AS links FROM otel_traces WHERE SpanId = {s:String}",
        {"s": batch.span_id},
    )[0]
    assert (
        json.loads(row["SpanAttributes"][conventions.BATCH_ORDER_IDS])
        == batch.attributes[conventions.BATCH_ORDER_IDS]
    )
    assert row["ResourceAttributes"][conventions.SERVICE_NAME] == "middleware"
    assert row["Duration"] == batch.duration_ns
    assert row["links"] == [link.span_id for link in batch.links]
    touch = next(r for r in records if r.attributes.get(conventions.MANUAL_TOUCH) is True)
    stored = store.scalar(
        "SELECT SpanAttributes['order.manual_touch'] FROM otel_traces WHERE SpanId = {s:String}",
        {"s": touch.span_id},
    )
    assert stored == "true"
    # every kind of key finds its order through the key index
    delivered = next(r for r in records if r.name == "delivery")
    order_id = delivered.attributes[conventions.ORDER_ID]
    for key_type in (conventions.SHIPMENT_TRACKING_NUMBER, conventions.SHIPMENT_ID):
        orders = store.rows(
            "SELECT DISTINCT OrderId FROM order_keys WHERE Key = {k:String} AND KeyType = {t:String}",
            {"k": delivered.attributes[key_type], "t": key_type},
        )
        assert [row["OrderId"] for row in orders] == [order_id]
    key_types = {row["KeyType"] for row in store.rows("SELECT DISTINCT KeyType FROM order_keys")}
    assert key_types == set(conventions.KEY_ATTRIBUTES)


def test_otlp_sink_exports_the_records_as_sdk_spans() -> None:
    records = simulate(orders=30, days=3)
    exporter = InMemorySpanExporter()
    sink = OtlpSink(exporter, batch_size=50)
    assert sink.send(records) == len(records)
    spans = exporter.get_finished_spans()
    assert len(spans) == len(records) and sink.batches_sent == -(-len(records) // 50)
    first, span = records[0], spans[0]
    assert span.context is not None
    assert (
        f"{span.context.trace_id:032x}" == first.trace_id and f"{span.context.span_id:016x}" == first.span_id
    )
    assert (span.start_time, span.end_time) == (first.start_ns, first.end_ns)
    assert span.resource.attributes[conventions.SERVICE_NAME] == first.service_name
    linked = next(r for r in records if r.links)
    sdk = next(s for s in spans if s.context is not None and f"{s.context.span_id:016x}" == linked.span_id)
    assert [f"{link.context.span_id:016x}" for link in sdk.links] == [link.span_id for link in linked.links]


def test_otlp_sink_through_the_real_collector(store: Store, tmp_path: Path) -> None:
    records = simulate(orders=25, days=3)
    # in-flight orders' spans end up to days after now: allow that skew (the default is one day)
    with running_collector(
        store, tmp_path / "spool", tokens=["s3cret"], max_clock_skew_s=7 * 86_400
    ) as collector:
        sink = OtlpSink(endpoint=collector.http_endpoint, token="s3cret", batch_size=100)
        sink.send(records)
        sink.close()
        collector.wait_drained()
    assert store.scalar("SELECT count() FROM otel_traces") == len(records)
    po = next(r for r in records if r.name == "translate 850").attributes[conventions.ORDER_CUSTOMER_PO]
    orders = {
        row["OrderId"]
        for row in store.rows("SELECT OrderId FROM order_keys WHERE Key = {k:String}", {"k": po})
    }
    assert any(o.startswith("SO-") for o in orders)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_otlp_sink_says_which_spans_the_collector_rejected(
    store: Store, tmp_path: Path, protocol: str
) -> None:
    """``tower simulate`` and ``tower demo`` send through this sink: a span the collector refuses in a
    partial success (here one starting in 1972) is an error naming the collector's reason, not a batch
    counted as sent (the SDK's exporters discard the answer), over HTTP and gRPC alike; the batch's
    other spans are stored."""
    records = simulate(orders=6, days=2)
    year_1972 = 2 * 365 * 86_400 * 10**9
    hostile = replace(records[3], start_ns=year_1972, end_ns=year_1972 + 10**9)
    sent = [*records[:3], hostile, *records[4:]]
    with running_collector(store, tmp_path / "spool", max_clock_skew_s=7 * 86_400) as collector:
        endpoint = collector.http_endpoint if protocol == "http" else f"http://{collector.grpc_endpoint}"
        sink = OtlpSink(endpoint=endpoint, batch_size=len(sent), protocol=protocol)
        with pytest.raises(SinkError, match=r"rejected 1 span.*(window|1972|before)") as refused:
            sink.send(sent)
        assert sink.spans_sent == 0 and "after 0 were sent" in str(refused.value)
        sink.close()
        collector.wait_drained()
    assert store.scalar("SELECT count() FROM otel_traces") == len(sent) - 1


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_otlp_sink_splits_a_batch_the_collector_finds_too_large(
    store: Store, tmp_path: Path, protocol: str
) -> None:
    """A collector with a smaller request limit than the sink's batch (413 over HTTP,
    RESOURCE_EXHAUSTED over gRPC) gets the batch in halves until each fits: every span arrives once."""
    records = simulate(orders=40, days=2)
    with running_collector(
        store, tmp_path / "spool", max_clock_skew_s=7 * 86_400, max_body_bytes=64 * 1024
    ) as collector:
        endpoint = collector.http_endpoint if protocol == "http" else f"http://{collector.grpc_endpoint}"
        sink = OtlpSink(endpoint=endpoint, batch_size=len(records), protocol=protocol)
        assert sink.send(records) == len(records)
        sink.close()
        collector.wait_drained()
    assert sink.batches_sent == 1
    stored = store.scalar("SELECT uniqExact(TraceId, SpanId) FROM otel_traces")
    assert stored == len(records) == store.scalar("SELECT count() FROM otel_traces")


def test_big_invoice_runs_are_split_so_collectors_keep_every_order() -> None:
    records = simulate(
        orders=1500, days=1, channel_mix={"ecommerce": 1}, rates=ExceptionRates(late_invoice=0.0)
    )
    runs = [r for r in records if r.name == "invoice run"]
    listed = [order for r in runs for order in r.attributes[conventions.BATCH_ORDER_IDS]]  # type: ignore[union-attr]
    assert max(len(r.attributes[conventions.BATCH_ORDER_IDS]) for r in runs) <= 500  # type: ignore[arg-type]
    assert max(Counter(r.start_ns for r in runs).values()) >= 2, "one night's invoicing in several runs"
    invoiced = {str(r.attributes[conventions.ORDER_ID]) for r in records if r.name == "post invoice"}
    assert len(listed) == len(set(listed)) and set(listed) == invoiced


def test_live_edi_files_hold_every_order_of_their_slot() -> None:
    config = SimulatorConfig(
        orders=0, days=1, end=END, live_orders_per_hour=300, channel_mix={"edi": 1}, customers=8,
        rates=ExceptionRates(edi_envelope=0.0),
    )  # fmt: skip
    sim = Simulator(config)
    now = config.end_ns
    list(sim.backfill(now))
    released: list[SpanRecord] = []
    for minute in range(1, 6 * 60, 7):  # ticks that do not line up with the 2-hour file slots
        released += sim.advance(now + minute * 60 * 10**9)
    files = [r for r in released if r.name == "receive 850 file"]
    per_slot = Counter(
        (r.attributes[conventions.CUSTOMER_ID], r.start_ns // (120 * 60 * 10**9)) for r in files
    )
    assert files and max(per_slot.values()) == 1
    assert max(int(str(r.attributes[conventions.BATCH_SIZE])) for r in files) >= 10


def test_fill_store_copies_the_simulated_history_with_distinct_ids_and_keys(store: Store) -> None:
    config = SimulatorConfig(orders=40, days=4, end=END)
    result = fill_store(store, 2000, config=config, base_orders=40)
    assert result["copies"] >= 2 and result["spans"] == result["base_spans"] * (result["copies"] + 1)
    assert store.scalar("SELECT count() FROM otel_traces") == result["spans"]
    assert store.scalar("SELECT uniqExact(SpanId) FROM otel_traces") == result["spans"]
    # every link and parent of a copy points at a span of the same copy
    dangling = store.scalar(
        "SELECT count() FROM (SELECT arrayJoin(`Links.SpanId`) AS l FROM otel_traces) "
        "WHERE l NOT IN (SELECT SpanId FROM otel_traces)"
    )
    assert dangling == 0
    orphans = store.scalar(
        "SELECT count() FROM otel_traces WHERE ParentSpanId != '' AND ParentSpanId NOT IN (SELECT SpanId FROM otel_traces)"
    )
    assert orphans == 0
    # a copied order is found by its copied keys, including list-valued batch members
    base_po = next(r for r in simulate(orders=40, days=4) if r.name == "map canonical order")
    po = f"{base_po.attributes[conventions.ORDER_CUSTOMER_PO]}-c1"
    orders = {
        row["OrderId"]
        for row in store.rows("SELECT OrderId FROM order_keys WHERE Key = {k:String}", {"k": po})
    }
    assert f"{base_po.attributes[conventions.ORDER_ID]}-c1" in orders
    batch_members = store.scalar(
        "SELECT count() FROM order_keys WHERE KeyType = 'order.batch.order_ids' AND endsWith(Key, '-c2')"
    )
    assert batch_members > 0
    per_copy = store.rows(
        "SELECT ScopeName, countIf(SpanAttributes['order.exception.type'] != '') AS exceptions "
        "FROM otel_traces GROUP BY ScopeName ORDER BY ScopeName"
    )
    base, copies = per_copy[0]["exceptions"], per_copy[1]["exceptions"]
    assert copies == base * result["copies"]


def test_id_offset_keeps_two_simulators_apart() -> None:
    first = simulate(orders=60, days=3)
    second = simulate(orders=60, days=3, id_offset=1_000_000)
    keys = list(conventions.KEY_ATTRIBUTES)

    def values(records: list[SpanRecord]) -> set[str]:
        found: set[str] = set()
        for record in records:
            for name in keys:
                value = record.attributes.get(name)
                found.update([value] if isinstance(value, str) else value if isinstance(value, list) else [])
        return found

    assert values(first).isdisjoint(values(second))
    assert {r.span_id for r in first}.isdisjoint({r.span_id for r in second})
    assert any(str(r.attributes.get(conventions.ORDER_ID, "")) == "SO-1100000" for r in second)


def test_simulated_edi_orders_stitch_into_whole_journeys(store: Store) -> None:
    """The simulator's broken traces (EDI file, batch, order, WMS, carrier, invoice run) come back as one story."""
    from tracing.timeline import find_orders, order_timeline

    rates = ExceptionRates(**dict.fromkeys(ExceptionRates.names(), 0.0))
    records = simulate(orders=60, days=6, rates=rates, channel_mix={"edi": 1})
    write_to_store(store, records)
    delivered = [r for r in records if r.name == "delivery"]
    order_id = str(delivered[0].attributes[conventions.ORDER_ID])
    spans = [r for r in records if r.attributes.get(conventions.ORDER_ID) == order_id]
    po = str(spans[0].attributes[conventions.ORDER_CUSTOMER_PO])
    tracking = str(delivered[0].attributes[conventions.SHIPMENT_TRACKING_NUMBER])

    def invoiced_orders(record: SpanRecord) -> list[str]:
        listed = record.attributes.get(conventions.BATCH_ORDER_IDS, [])
        return [str(record.attributes.get(conventions.ORDER_ID, ""))] + (
            listed if isinstance(listed, list) else []
        )

    invoice = next(
        str(r.attributes[conventions.INVOICE_ID])
        for r in records
        if r.name == "post invoice" and order_id in invoiced_orders(r)
    )
    for key in (order_id, po, tracking, invoice):
        assert order_id in [m.order_id for m in find_orders(store, key)], key
    timeline = order_timeline(store, order_id)
    stages = {hop.stage for hop in timeline.hops}
    assert stages >= {
        "capture",
        "validation",
        "credit",
        "pricing",
        "allocation",
        "pick",
        "pack",
        "ship",
        "deliver",
        "invoice",
    }
    expected_traces = {r.trace_id for r in records if r.span_id in {s.span_id for s in spans}}
    translate = next(
        r for r in records if r.name == "translate 850" and r.attributes[conventions.ORDER_CUSTOMER_PO] == po
    )
    assert expected_traces | {translate.trace_id} <= set(timeline.trace_ids), (
        "file, order, WMS and carrier traces"
    )
    assert timeline.waiting_ns > 0 and timeline.gaps


def test_store_sink_and_otlp_through_the_collector_store_the_same_rows(
    store: Store, module_store: Store, tmp_path: Path
) -> None:
    """The fast path is faithful: it writes exactly what the real collector stores for the same spans."""
    records = simulate(orders=25, days=4, rates=ExceptionRates(carrier_exception=0.5, late_invoice=0.5))
    write_to_store(store, records)
    # in-flight orders' spans end up to days after now: allow that skew (the default is one day)
    with running_collector(module_store, tmp_path / "spool", max_clock_skew_s=7 * 86_400) as collector:
        sink = OtlpSink(endpoint=collector.http_endpoint)
        sink.send(records)
        sink.close()
        collector.wait_drained()
    columns = (
        "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, "
        "ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, `Events.Timestamp`, "
        "`Events.Name`, `Events.Attributes`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`"
    )
    direct = store.rows(f"SELECT {columns} FROM otel_traces ORDER BY SpanId")
    collected = module_store.rows(f"SELECT {columns} FROM otel_traces ORDER BY SpanId")
    assert len(direct) == len(records)
    for mine, theirs in zip(direct, collected, strict=True):
        # the collector adds resource attributes the SDK sets (telemetry.sdk.*); ours must all be there
        theirs_resource = theirs.pop("ResourceAttributes")
        assert mine.pop("ResourceAttributes").items() <= theirs_resource.items()
        assert mine == theirs


@pytest.mark.parametrize(("days", "orders"), [(0.01, 40), (0.5, 90), (9, 130)])
def test_every_configured_order_is_generated_whatever_the_window(days: float, orders: int) -> None:
    credit_checks = [r for r in simulate(orders=orders, days=days) if r.name == "credit check"]
    assert len({r.attributes[conventions.ORDER_ID] for r in credit_checks}) == orders


def test_too_many_orders_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="orders must be between 0 and 100,000,000"):
        SimulatorConfig(orders=10**10)


def test_expedited_orders_fly(default_run: list[SpanRecord]) -> None:
    expedited = {
        str(r.attributes[conventions.ORDER_ID])
        for r in default_run
        if r.attributes.get(conventions.ORDER_PRIORITY) == "expedite" and conventions.ORDER_ID in r.attributes
    }
    deliveries = [r for r in default_run if r.name == "delivery"]
    fast = [r for r in deliveries if r.attributes[conventions.ORDER_ID] in expedited]
    slow = [r for r in deliveries if r.attributes[conventions.ORDER_ID] not in expedited]
    assert fast and all(r.attributes[conventions.SHIPMENT_CARRIER] == "fedex" for r in fast)
    mean = lambda spans: sum(r.duration_ns for r in spans) / len(spans)  # noqa: E731
    assert mean(fast) < mean(slow) / 2
