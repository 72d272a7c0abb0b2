"""``tower bench ingest``: OTLP/HTTP ingest throughput of a real collector process, printed as JSON.

A ``tower serve --roles collector`` subprocess runs on a fresh embedded store; client threads in
this process send realistic order-hop requests (13 attributes per span, 500 spans per request,
pre-serialised protobuf, keep-alive connections) as fast as the collector acknowledges them.
Reported: acknowledged spans/s, durable spans/s (until the spool is drained into ClickHouse),
server CPU seconds per span (utime+stime of the server process), peak RSS (VmHWM), and the two
limits measured in the same run on the same spans: protobuf parse-only spans/s and raw columnar
insert rows/s (the converted blocks inserted straight into a separate embedded store), plus the
in-process Python rates: the collector's protobuf parse+convert path (raw attributes through the
cache, warmed by other requests first) and the strict converter on parsed requests.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.convert import AttributeCache, Limits, convert, convert_raw
from collector.decode import parse_protobuf_raw_attributes
from collector.testing import order_hop_request
from collector.writer import insert_block
from storage import StorageSettings, open_store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start_server(data_dir: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "TOWER_STORAGE__DATA_DIR": str(data_dir),
        "TOWER_COLLECTOR__HTTP_PORT": "0",
        "TOWER_COLLECTOR__GRPC_PORT": "0",
        "TOWER_LOG_LEVEL": "INFO",
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tower.cli", "serve", "--roles", "collector"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    tail: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        tail = [*tail[-20:], line]
        match = re.search(r"collector listening http=(http://\S+)", line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, match.group(1)
    process.kill()
    raise RuntimeError("the collector did not start:\n" + "".join(tail))


def _counter(url: str, name: str) -> int:
    """A counter's value from a Prometheus text page (0 when absent)."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        connection.request("GET", parsed.path)
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return int(float(values[0])) if values else 0


def _get_json(url: str) -> Any:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        connection.request("GET", parsed.path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _measure_limits(bodies: list[bytes], spans_per_request: int, work_dir: Path) -> dict[str, int]:
    """Parse-only and raw-insert rates of the same requests, in this process."""
    rounds = max(1, 20_000 // (spans_per_request * len(bodies)) + 1)
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            ExportTraceServiceRequest.FromString(body)
    parse_rate = rounds * len(bodies) * spans_per_request / (time.perf_counter() - started)
    limits = Limits()
    parsed = [ExportTraceServiceRequest.FromString(body) for body in bodies]
    started = time.perf_counter()
    blocks = [convert(request, limits).block for request in parsed]
    strict_rate = len(bodies) * spans_per_request / (time.perf_counter() - started)
    # what the collector does with a protobuf body: parse with raw attributes, convert through a
    # cache warmed by other requests (recurring values cached, these requests' order ids not)
    cache = AttributeCache(limits)
    for seed in range(len(bodies), 2 * len(bodies)):
        warm_up = parse_protobuf_raw_attributes(
            order_hop_request(spans_per_request, seed=seed).SerializeToString()
        )
        assert warm_up is not None
        convert_raw(warm_up, cache)
    started = time.perf_counter()
    for body in bodies:
        raw_request = parse_protobuf_raw_attributes(body)
        assert raw_request is not None
        convert_raw(raw_request, cache)
    convert_rate = len(bodies) * spans_per_request / (time.perf_counter() - started)
    batch = b"".join(blocks * max(1, 50_000 // (spans_per_request * len(bodies))))
    batch_rows = len(blocks) * spans_per_request * max(1, 50_000 // (spans_per_request * len(bodies)))
    store = open_store(StorageSettings(data_dir=work_dir), database="bench_raw", command="tower bench ingest")
    try:
        migrate(store, KEY_ROLES)
        tag = uuid.uuid4().hex[:8]  # fresh tokens: a repeated token would be deduplicated, not inserted
        insert_block(store, batch, f"warm-up-{tag}")
        runs = 3
        started = time.perf_counter()
        for run in range(runs):
            insert_block(store, batch, f"raw-{tag}-{run}")
        insert_rate = runs * batch_rows / (time.perf_counter() - started)
    finally:
        store.close()
    return {
        "protobuf_parse_spans_per_s": round(parse_rate),
        "raw_insert_rows_per_s": round(insert_rate),
        "python_parse_and_convert_spans_per_s": round(convert_rate),
        "python_convert_strict_spans_per_s": round(strict_rate),
    }


def run_bench(
    seconds: float = 10.0,
    clients: int = 4,
    spans_per_request: int = 500,
    distinct_requests: int = 16,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the figures (see the module docstring)."""
    base = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="tower-bench-ingest-"))
    base.mkdir(parents=True, exist_ok=True)
    bodies = [
        order_hop_request(spans_per_request, seed=i).SerializeToString() for i in range(distinct_requests)
    ]
    limits = _measure_limits(bodies, spans_per_request, base / "raw")

    process, url = _start_server(base / "server", {})
    parsed = urlparse(url)
    acked = 0
    refused = 0
    errors = 0
    lock = threading.Lock()
    stop = threading.Event()

    def client(index: int) -> None:
        nonlocal acked, refused, errors
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
        i = index
        while not stop.is_set():
            body = bodies[i % len(bodies)]
            i += clients
            try:
                connection.request(
                    "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
                )
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    errors += 1
                connection.close()
                connection = http.client.HTTPConnection(
                    parsed.hostname or "127.0.0.1", parsed.port, timeout=60
                )
                continue
            with lock:
                if response.status == 200:
                    acked += spans_per_request
                else:
                    refused += 1
            if response.status != 200:
                time.sleep(0.05)
        connection.close()

    try:
        cpu_before = _cpu_seconds(process.pid)
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(60)
        ack_elapsed = time.perf_counter() - started
        while _get_json(url + "/healthz")["spool_pending_spans"] > 0:
            time.sleep(0.05)
        durable_elapsed = time.perf_counter() - started
        written = _counter(url + "/metrics", "tower_collector_spans_written_total")
        cpu = _cpu_seconds(process.pid) - cpu_before
        peak_rss = _peak_rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()

    durable_rate = acked / durable_elapsed if durable_elapsed else 0.0
    after = _measure_limits(bodies, spans_per_request, base / "raw")
    return {
        "clients": clients,
        "spans_per_request": spans_per_request,
        "attributes_per_span": 13,
        "seconds": round(ack_elapsed, 2),
        "acknowledged_spans": acked,
        "written_spans": written,  # by the collector's own counter: every acknowledged span stored
        "acknowledged_spans_per_s": round(acked / ack_elapsed),
        "durable_spans_per_s": round(durable_rate),
        "drain_seconds_after_load": round(durable_elapsed - ack_elapsed, 2),
        "server_cpu_seconds": round(cpu, 2),
        "server_cpu_seconds_per_span": cpu / acked if acked else None,
        "spans_per_server_core_second": round(acked / cpu) if cpu else None,
        "server_peak_rss_mib": round(peak_rss, 1),
        "refused_requests": refused,
        "client_errors": errors,
        "limits": limits,
        "limits_after_run": after,
        # against the better of the two raw-insert measurements (the machine's load varies)
        "durable_to_raw_insert_ratio": round(
            durable_rate / max(limits["raw_insert_rows_per_s"], after["raw_insert_rows_per_s"]), 3
        ),
        "targets": {
            "spans_per_server_core_second": 150_000,
            "durable_to_raw_insert_ratio": 0.6,
            "server_peak_rss_mib": 300,
        },
        "machine_cpus": os.cpu_count(),
    }
