"""The engine converts spooled OTLP requests (collector/otlp_insert.sql) into exactly the rows the
Python converter (collector/convert.py, the clickhouseexporter's mapping) produces: every kind of
scalar value, doubles at their edges, control characters, repeated keys, limits. Requests with array
or map values take the Python converter at the door: stored the same way, JSON escapes included."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock import ANCHOR_NS
from collector_helpers import read_spans
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.convert import Limits, convert
from collector.engine import insert_requests
from collector.testing import order_hop_request, running_collector
from collector.writer import insert_block
from storage import StorageSettings, Store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES

DOUBLES = [0.1, 1e-7, 1.5e-10, 1e21, 2.5e21, 1e20, 1e16, -0.0, 5e-324, 1.7976931348623157e308, 123.456, -2.5]
DOUBLES += [math.nan, math.inf, -math.inf, 12.5, 2.0, 1.2345678901234567e-5]
TEXTS = [
    'quote " back \\ slash /',
    "tab\t nl\n cr\r nul\x00 bell\x07 esc\x1b del\x7f",
    "\u00e9\U0001f600 \u2028\u2029 <>&",
]


def _every_kind(attributes: Any, prefix: str, containers: bool) -> None:
    add = attributes.add
    add(key=f"{prefix}.text", value=AnyValue(string_value="plain"))
    add(key=f"{prefix}.empty", value=AnyValue(string_value=""))
    add(key=f"{prefix}.unset")
    add(key=f"{prefix}.bool", value=AnyValue(bool_value=False))
    add(key=f"{prefix}.int", value=AnyValue(int_value=-(2**63)))
    for n, number in enumerate(DOUBLES):
        add(key=f"{prefix}.double{n}", value=AnyValue(double_value=number))
    add(key=f"{prefix}.bytes", value=AnyValue(bytes_value=b"\x00\xff"))
    add(key=f"{prefix}." + "k" * 300, value=AnyValue(string_value="long key"))
    add(key=f"{prefix}.long", value=AnyValue(string_value="\u00e9" * 20_000))
    for n, text in enumerate(TEXTS):
        add(key=f"{prefix}.utf8{n}", value=AnyValue(string_value=text))
    if containers:
        _containers(add, prefix)
    add(key=f"{prefix}.text", value=AnyValue(string_value="duplicate key, last wins"))


def _containers(add: Any, prefix: str) -> None:
    array = add(key=f"{prefix}.array").value.array_value.values
    for number in DOUBLES:
        array.add(double_value=number)
    for text in TEXTS:
        array.add(string_value=text)
    array.add(int_value=7)
    array.add(bool_value=True)
    array.add(bytes_value=b"\x01\x02")
    array.add()
    add(key=f"{prefix}.empty_array").value.array_value.SetInParent()
    long_array = add(key=f"{prefix}.long_array").value.array_value.values
    for n in range(1500):
        long_array.add(int_value=n)
    kvlist = add(key=f"{prefix}.map").value.kvlist_value.values
    kvlist.add(key="a", value=AnyValue(int_value=1))
    kvlist.add(key='q"uote', value=AnyValue(string_value=TEXTS[1]))
    kvlist.add(key="b", value=AnyValue(double_value=0.5))
    kvlist.add(key="a", value=AnyValue(string_value="last wins, first place"))
    nested = add(key=f"{prefix}.nested").value.array_value.values
    nested.add(int_value=1)
    nested.add().kvlist_value.values.add(key="deep", value=AnyValue(double_value=2.0))


def hostile_request(containers: bool = False) -> ExportTraceServiceRequest:
    request = order_hop_request(12, seed=7, start_ns=ANCHOR_NS - 3_600 * 10**9)
    resource_spans = request.resource_spans[0]
    _every_kind(resource_spans.resource.attributes, "res", containers)
    spans = resource_spans.scope_spans[0].spans
    for i, span in enumerate(spans):
        _every_kind(span.attributes, f"span{i % 3}", containers)
        event = span.events.add(name="evt", time_unix_nano=span.start_time_unix_nano + 5)
        _every_kind(event.attributes, "event", containers)
        link = span.links.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), trace_state="k=v")
        _every_kind(link.attributes, "link", containers)
    for n in range(200):
        spans[5].attributes.add(key=f"many.{n}", value=AnyValue(string_value=str(n)))
    spans[6].kind = 99  # out of range: Unspecified
    spans[7].status.code = 7  # out of range: Unset
    spans[8].parent_span_id = bytes(8)  # all zeros: no parent
    return request


@pytest.fixture
def second_store(engine: Store, storage_settings: StorageSettings) -> Iterator[Store]:
    store = Store(storage_settings, f"py_{uuid.uuid4().hex[:12]}")
    migrate(store, KEY_ROLES)
    yield store
    store.drop_database()
    store.close()


def test_engine_stores_exactly_what_the_python_converter_stores(
    store: Store, second_store: Store, tmp_path: Path
) -> None:
    request = hostile_request()
    limits = Limits()
    insert_requests(store, [request.SerializeToString()], "engine-1", limits, tmp_path / "scratch.pb")
    insert_block(second_store, convert(request, limits).block, "python-1")
    engine_rows = read_spans(store)
    python_rows = read_spans(second_store)
    assert len(engine_rows) == len(python_rows) == 12
    for engine_row, python_row in zip(engine_rows, python_rows, strict=True):
        assert engine_row == python_row
    attributes = engine_rows[0]["SpanAttributes"]
    prefix = next(key for key in attributes if key.endswith(".double3")).removesuffix(".double3")
    assert attributes[f"{prefix}.double3"] == "1000000000000000000000"  # Go's 'f' format
    assert attributes[f"{prefix}.text"] == "duplicate key, last wins"
    many = next(r for r in engine_rows if "many.0" in r["SpanAttributes"])["SpanAttributes"]
    assert "many.199" not in many and len(many) <= 128  # cut to max_attributes
    # the key index and the order-keyed spans (materialized views) saw the same rows
    for table in ("order_keys", "order_spans"):
        query = f"SELECT count() FROM {table}"
        assert store.scalar(query) == second_store.scalar(query) > 0


def test_array_and_map_values_take_the_python_converter_at_the_door(
    store: Store, second_store: Store, tmp_path: Path
) -> None:
    request = hostile_request(containers=True)
    with running_collector(store, tmp_path / "spool", clock=lambda: ANCHOR_NS) as collector:
        response = httpx.post(
            collector.http_endpoint + "/v1/traces",
            content=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200
        assert collector.wait_drained(30)
    insert_block(second_store, convert(request, Limits()).block, "python-2")
    assert read_spans(store) == read_spans(second_store)
    attributes = read_spans(store)[0]["SpanAttributes"]
    prefix = next(key for key in attributes if key.endswith(".nested")).removesuffix(".nested")
    assert attributes[f"{prefix}.nested"] == '[1,{"deep":2}]'
    assert attributes[f"{prefix}.map"].startswith('{"a":"last wins, first place","q\\"uote":')
    assert attributes[f"{prefix}.array"].startswith("[0.1,1e-7,1.5e-10,1e21,2.5e21,100000000000000000000,")


def test_a_batch_converted_a_few_requests_at_a_time_is_stored_whole_and_once(
    store: Store, second_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine converts a batch's requests a few MiB at a time (bounded memory). A batch larger
    than that gives the same rows as one converted at once, and inserting it again (the writer
    replays a segment after a crash) adds nothing, to otel_traces nor to the tables its views feed."""
    import collector.engine as engine

    bodies = [
        order_hop_request(40, seed=n, start_ns=ANCHOR_NS + n * 10**9).SerializeToString() for n in range(6)
    ]
    insert_requests(second_store, bodies, "whole-1", Limits(), tmp_path / "whole.pb")
    monkeypatch.setattr(engine, "INPUT_BLOCK_BYTES", min(len(b) for b in bodies))  # a block per request
    for _ in range(2):
        insert_requests(store, bodies, "split-1", Limits(), tmp_path / "split.pb")
    assert read_spans(store) == read_spans(second_store)
    assert len(read_spans(store)) == 240
    for table in ("order_keys", "order_spans", "span_arrivals"):
        query = f"SELECT count() FROM {table}"
        assert store.scalar(query) == second_store.scalar(query) > 0


def test_each_span_keeps_its_own_resource_when_a_request_carries_several(
    store: Store, second_store: Store, tmp_path: Path
) -> None:
    """The engine converts a resource's attributes once for all its spans: with several resources in
    one request (an agent forwarding for many services), one of them without attributes, every span
    still gets its own resource's attributes and service name, as the Python converter stores them."""
    request = ExportTraceServiceRequest()
    for seed, service in ((1, "erp-east"), (2, "wms-dc1"), (3, "")):
        part = order_hop_request(3, seed=seed, start_ns=ANCHOR_NS - 3_600 * 10**9).resource_spans[0]
        if service:
            for attribute in part.resource.attributes:
                if attribute.key == "service.name":
                    attribute.value.string_value = service
            part.resource.attributes.add(key=f"only.{service}", value=AnyValue(int_value=seed))
        else:
            del part.resource.attributes[:]
        request.resource_spans.append(part)
    insert_requests(store, [request.SerializeToString()], "engine-3", Limits(), tmp_path / "scratch.pb")
    insert_block(second_store, convert(request, Limits()).block, "python-3")
    rows = read_spans(store)
    assert rows == read_spans(second_store)
    services = sorted(
        (r["ServiceName"], r["ResourceAttributes"].get(f"only.{r['ServiceName']}")) for r in rows
    )
    assert services == [("", None)] * 3 + [("erp-east", "1")] * 3 + [("wms-dc1", "2")] * 3


def test_an_agent_forwarding_for_several_services_keeps_each_span_s_resource(
    store: Store, second_store: Store, tmp_path: Path
) -> None:
    """The same with a request the plain OpenTelemetry SDK encodes: one export of spans from three
    tracer providers (a forwarding agent's batch), one with an empty resource. Each span is stored with
    its own service and resource attributes, as the Python converter stores them."""
    spans = []
    resources = [
        Resource.create({"service.name": "erp-east", "deployment.region": "eu", "host.cpus": 8}),
        Resource.create({"service.name": "wms-dc1", "wms.site.open": True, "wms.load": 0.75}),
        Resource({}),
    ]
    for n, resource in enumerate(resources):
        memory = InMemorySpanExporter()  # shut down with its provider
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("tower.tests")
        with (
            tracer.start_as_current_span(f"hop {n}", attributes={"order.id": f"SO-{n}"}),
            tracer.start_as_current_span(f"step {n}"),
        ):
            pass
        provider.shutdown()
        spans += memory.get_finished_spans()
    request = encode_spans(spans)
    assert len(request.resource_spans) == 3  # one request, three resources
    insert_requests(store, [request.SerializeToString()], "sdk-1", Limits(), tmp_path / "scratch.pb")
    insert_block(second_store, convert(request, Limits()).block, "sdk-python-1")
    rows = read_spans(store)
    assert rows == read_spans(second_store)
    stored = sorted(
        (
            r["SpanName"],
            r["ServiceName"],
            r["ResourceAttributes"].get("deployment.region"),
            r["ResourceAttributes"].get("wms.load"),
            len(r["ResourceAttributes"]),
        )
        for r in rows
    )
    erp, wms = (len(resource.attributes) for resource in resources[:2])
    assert stored == [
        ("hop 0", "erp-east", "eu", None, erp),
        ("hop 1", "wms-dc1", None, "0.75", wms),
        ("hop 2", "", None, None, 0),
        ("step 0", "erp-east", "eu", None, erp),
        ("step 1", "wms-dc1", None, "0.75", wms),
        ("step 2", "", None, None, 0),
    ]
