"""Acknowledged means durable: idempotent replay, store outage, crash (SIGKILL) of a real process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.convert import Limits, convert
from collector.quarantine import Quarantine
from collector.spool import Spool
from collector.testing import order_hop_request, running_collector
from collector.writer import StoreWriter
from storage import Store

PROTOBUF = {"Content-Type": "application/x-protobuf"}
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def spool_with(directory: Path, requests: int, spans: int) -> list[Path]:
    """Write ``requests`` blocks into a spool the way the receivers do; returns the sealed files."""
    spool = Spool(directory, max_bytes=1 << 30, segment_max_rows=10**6, flush_interval_s=60)
    spool.open()
    for seed in range(requests):  # what the receivers spool: the accepted OTLP requests
        spool.append(order_hop_request(spans, seed=seed).SerializeToString(), spans).result(10)
    spool.close()
    return sorted(directory.glob("*.wal"))


def counts(store: Store) -> tuple[int, int, int]:
    return (
        store.scalar("SELECT count() FROM otel_traces"),
        store.scalar("SELECT uniqExact(SpanId) FROM otel_traces"),
        store.scalar("SELECT count() FROM order_keys"),
    )


def test_a_replayed_spool_segment_is_stored_once(store: Store, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    [segment] = spool_with(spool_dir, requests=3, spans=200)
    saved = tmp_path / segment.name
    shutil.copy(segment, saved)
    with running_collector(store, spool_dir) as collector:  # replays the spool at start-up
        assert collector.wait_drained(30)
    assert not segment.exists()
    assert counts(store) == (600, 600, 1200)  # order.id and order.customer_po per span
    # a crash after the insert but before the segment was deleted: the same segment again
    shutil.copy(saved, segment)
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
        assert collector.metrics.batches_written._value.get() == 1  # it was inserted ...
    assert counts(store) == (600, 600, 1200)  # ... and ClickHouse dropped it by its token
    # control: the same rows under another segment name (another token) are stored again
    shutil.copy(saved, spool_dir / ("9" + segment.name[1:]))
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
    assert counts(store)[0] == 1200


def test_store_outage_spools_up_to_its_bound_then_503_then_drains(store: Store, tmp_path: Path) -> None:
    block = order_hop_request(200).SerializeToString()
    bound = int(len(block) * 3.5)
    with running_collector(store, tmp_path / "spool", spool_max_bytes=bound) as collector:
        store.command(f"DETACH TABLE {store.ident('otel_traces')}")
        try:
            url = collector.http_endpoint + "/v1/traces"
            acked: list[str] = []
            answers = []
            for seed in range(6):
                request = order_hop_request(200, seed=seed)
                response = httpx.post(url, content=request.SerializeToString(), headers=PROTOBUF, timeout=30)
                answers.append(response.status_code)
                if response.status_code == 200:
                    acked += [s.span_id.hex() for s in request.resource_spans[0].scope_spans[0].spans]
                else:
                    assert response.headers["Retry-After"] == "2"
            assert answers == [200, 200, 200, 503, 503, 503]
            with grpc.insecure_channel(collector.grpc_endpoint) as channel:
                try:
                    channel.unary_unary(METHOD)(
                        order_hop_request(200, seed=9).SerializeToString(), timeout=10
                    )
                    raise AssertionError("gRPC export was accepted while the spool is full")
                except grpc.RpcError as refused:
                    assert refused.code() is grpc.StatusCode.UNAVAILABLE
                    details = dict(refused.trailing_metadata())["grpc-status-details-bin"]
                    status = status_pb2.Status.FromString(details)
                    retry = error_details_pb2.RetryInfo()
                    assert status.details[0].Unpack(retry)
                    assert retry.retry_delay.seconds == 2
            assert not collector.wait_drained(0.5)  # the writer keeps failing and retrying
            assert collector.writer.failures >= 1
        finally:
            store.command(f"ATTACH TABLE {store.ident('otel_traces')}")
        assert collector.wait_drained(30)
        stored = [r["SpanId"] for r in store.rows("SELECT SpanId FROM otel_traces")]
        assert sorted(stored) == sorted(acked)  # nothing lost, nothing doubled
        # accepting again now that the store is back
        again = httpx.post(
            collector.http_endpoint + "/v1/traces",
            content=order_hop_request(10, seed=42).SerializeToString(),
            headers=PROTOBUF,
        )
        assert again.status_code == 200


def test_a_segment_of_an_earlier_version_with_a_refused_row_is_split_and_only_that_row_quarantined(
    store: Store, tmp_path: Path
) -> None:
    """A spool written before the engine converted (JSONCompactColumns blocks) is still inserted."""
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir, max_bytes=1 << 30, segment_max_rows=10**6, flush_interval_s=60)
    spool.open()
    good = convert(order_hop_request(5, seed=1), Limits())
    timestamp = good.block.split(b'"', 2)[1]  # the first span's start time text
    poison = good.block.replace(timestamp, b"not a time", 1)
    spool.append(poison, good.accepted).result(10)
    spool.close()
    spans = order_hop_request(5, seed=1).resource_spans[0].scope_spans[0].spans
    with running_collector(store, spool_dir) as collector:
        response = httpx.post(
            collector.http_endpoint + "/v1/traces",
            content=order_hop_request(7, seed=2).SerializeToString(),
            headers=PROTOBUF,
        )
        assert response.status_code == 200
        assert collector.wait_drained(30)  # the bad segment does not hold up the good one
        assert collector.metrics.spans_quarantined._value.get() == 1
    # the four good rows of the refused segment are written, with the other request's seven
    assert store.scalar("SELECT count() FROM otel_traces") == 11
    stored = {r["SpanId"] for r in store.rows("SELECT SpanId FROM otel_traces")}
    assert spans[0].span_id.hex() not in stored
    assert {s.span_id.hex() for s in spans[1:]} <= stored
    [entry] = Quarantine(spool_dir).entries()
    assert entry.span_ids == [spans[0].span_id.hex()]
    assert entry.code == 41 and "DateTime" in entry.reason


def test_a_batch_of_segments_interrupted_by_a_crash_is_replayed_as_the_same_batch(
    store: Store, tmp_path: Path
) -> None:
    """Small segments are inserted together under one token; the batch is written down first, so
    that after a crash between the insert and the deletes the same segments get the same token
    (and ClickHouse drops them), even when newer segments wait beside them."""
    spool_dir = tmp_path / "spool"
    first = spool_with(spool_dir, requests=1, spans=50)
    second = [p for p in spool_with(spool_dir, requests=1, spans=60) if p not in first]
    saved = {path.name: path.read_bytes() for path in (*first, *second)}
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
        assert collector.metrics.batches_written._value.get() == 1  # both in one insert
    assert counts(store)[0] == 110
    # the crash: both segments back on disk, the batch still written down, a newer segment beside
    names = sorted(saved)
    for name, data in saved.items():
        (spool_dir / name).write_bytes(data)
    token = f"{Path(names[0]).stem}+2"
    (spool_dir / "batches").mkdir(exist_ok=True)
    (spool_dir / "batches" / f"{token}.json").write_text(json.dumps({"token": token, "segments": names}))
    spool = Spool(spool_dir, max_bytes=1 << 30, segment_max_rows=10**6, flush_interval_s=60)
    spool.open()
    spool.append(order_hop_request(7, seed=77).SerializeToString(), 7).result(10)
    spool.close()
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
    assert counts(store)[0] == 117  # the replayed batch dropped by its token, the new one stored
    assert not list((spool_dir / "batches").glob("*.json"))


def test_a_segment_inserted_alone_and_crashed_is_not_grouped_with_newer_segments_on_replay(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash test's doubled request: a segment inserted alone (its name its token), the process
    killed before the delete; at the restart newer segments wait beside it. Replayed in a group (a
    new token) its rows were stored twice. The spool is copied as it is on disk right after the
    insert, i.e. what a SIGKILL at that moment leaves."""
    spool_dir = tmp_path / "spool"
    spool_with(spool_dir, requests=1, spans=40)
    crashed = tmp_path / "crashed"
    insert = StoreWriter._insert

    def insert_then_crash(self: StoreWriter, *args: Any, **kwargs: Any) -> None:
        insert(self, *args, **kwargs)
        if not crashed.exists():
            shutil.copytree(spool_dir, crashed)

    monkeypatch.setattr(StoreWriter, "_insert", insert_then_crash)
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
        assert collector.metrics.batches_written._value.get() == 1
    assert counts(store)[0] == 40
    monkeypatch.setattr(StoreWriter, "_insert", insert)
    shutil.rmtree(spool_dir)
    shutil.copytree(crashed, spool_dir)
    assert list(spool_dir.glob("*.wal"))  # the inserted segment is still there: it is replayed
    spool = Spool(spool_dir, max_bytes=1 << 30, segment_max_rows=10**6, flush_interval_s=60)
    spool.open()  # acknowledged after the crash, before the restart's writer runs
    spool.append(order_hop_request(7, seed=77).SerializeToString(), 7).result(10)
    spool.close()
    with running_collector(store, spool_dir) as collector:
        assert collector.wait_drained(30)
    assert counts(store)[:2] == (47, 47)  # the 40 once (dropped by their token), the 7 stored
    assert not list(spool_dir.glob("*.wal"))
    assert not list((spool_dir / "batches").glob("*.json"))
