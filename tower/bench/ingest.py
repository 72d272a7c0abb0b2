"""``tower bench ingest``: OTLP/HTTP ingest of a real collector, distinct order spans, printed as JSON.

A ``tower serve --roles collector`` subprocess (and the receiver processes it starts) runs on a
fresh embedded store. Client threads in this process send realistic order-hop requests (13
attributes per span, 500 spans per request, keep-alive connections), every span distinct across
the whole run: fresh trace, span and parent ids, order numbers, customer POs and times, on 16
request shapes (system, stage, region, ... repeat as they do in real traffic). The bodies are built
before the clock starts, so the clients spend their time sending.

Phase 1 sends as fast as the collector acknowledges, then waits until the collector's own counter
of written spans reaches the acknowledged ones (``written_spans``): ``durable_spans_per_s``. CPU per span: ``receiver_cpu_us_per_span`` is the CPU of the tower's
processes that is not the engine's (the receiver processes', up to the drain: their share of the
bench's own /metrics polls included; ``receiver_cpu_us_per_span_while_sending`` only until the
clients stop); ``engine_cpu_us_per_span`` is the engine's (inserts,
materialized views and merges: user + system time from ``system.events``, up to the drain plus a
few seconds of merges). Phase 2 offers twice the durable rate for as long, on new distinct bodies
made once that rate is known, and records the peak RSS of all tower processes together
(``tower_peak_rss_mib``) and how the collector pushed back. ``ran_out_of_bodies`` says a phase sent
every body it had before its time was up (it then ends early and its rates cover the shorter time).
``load_average`` is the machine's before and after: other work on the machine inflates every figure.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.testing import order_hop_request

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
SHAPES = 16


class DistinctBodies:
    """Order-hop request bodies whose every span is new: ids, order numbers, POs and times patched
    into a serialised template of the same shape (fixed-width fields, so offsets do not move)."""

    def __init__(self, spans_per_request: int, start_ns: int) -> None:
        self.spans = spans_per_request
        self.start_ns = start_ns
        self.templates = [self._template(shape) for shape in range(SHAPES)]

    def _template(self, shape: int) -> tuple[bytes, list[tuple[int, int, int, int, int, int, int]]]:
        request = order_hop_request(self.spans, seed=1000 + shape, start_ns=self.start_ns)
        spans = request.resource_spans[0].scope_spans[0].spans
        rnd = random.Random(shape)
        for span in spans:
            order = rnd.randrange(10**8, 10**9)
            for attribute in span.attributes:
                if attribute.key == "order.id":
                    attribute.value.string_value = f"SO-{order:09d}"
                elif attribute.key == "order.customer_po":
                    attribute.value.string_value = f"PO-{order:09d}"
        body = request.SerializeToString()
        offsets = []
        for span in spans:
            order_text = next(a.value.string_value for a in span.attributes if a.key == "order.id")
            po_text = next(a.value.string_value for a in span.attributes if a.key == "order.customer_po")
            offsets.append(
                (
                    body.index(span.trace_id),
                    body.index(span.span_id),
                    body.index(span.parent_span_id),
                    body.index(struct.pack("<Q", span.start_time_unix_nano)),
                    body.index(struct.pack("<Q", span.end_time_unix_nano)),
                    body.index(order_text.encode()) + 3,
                    body.index(po_text.encode()) + 3,
                )
            )
        return body, offsets

    def body(self, index: int) -> bytes:
        """Request ``index``: distinct from every other index."""
        template, offsets = self.templates[index % SHAPES]
        buffer = bytearray(template)
        rnd = random.Random(index)
        ids = rnd.randbytes(32 * self.spans)
        pack = struct.pack_into
        for n, (trace_at, span_at, parent_at, start_at, end_at, order_at, po_at) in enumerate(offsets):
            base = 32 * n
            buffer[trace_at : trace_at + 16] = ids[base : base + 16]
            buffer[span_at : span_at + 8] = ids[base + 16 : base + 24]
            buffer[parent_at : parent_at + 8] = ids[base + 24 : base + 32]
            start = self.start_ns + rnd.randrange(3_600_000_000_000)
            pack("<Q", buffer, start_at, start)
            pack("<Q", buffer, end_at, start + rnd.randrange(1_000_000, 5_000_000_000))
            digits = b"%09d" % (index * self.spans + n)
            buffer[order_at : order_at + 9] = digits
            buffer[po_at : po_at + 9] = digits
        return bytes(buffer)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _status_mib(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _is_receiver(pid: int) -> bool:
    try:
        return "collector.receiver" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


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


def _get(url: str) -> tuple[int, bytes]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        connection.request("GET", parsed.path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _metric(url: str, name: str) -> float:
    _status, text = _get(url + "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def _written(url: str) -> int:
    """Spans the collector has written (its own counter; with receiver processes the writer's figure
    is published twice a second)."""
    return int(_metric(url, "tower_collector_spans_written_total"))


# How often the bench asks /metrics whether the writer is done. The writer publishes its count twice
# a second; each poll is served by a receiver and counted in receiver_cpu_us_per_span.
POLL_S = 0.2


def _wait_written(url: str, spans: int, timeout: float = 300.0) -> int:
    """Wait until the collector has written ``spans`` spans in all (the spool's pending count alone
    misses what receiver processes have not sealed yet); returns the count it reached."""
    deadline = time.perf_counter() + timeout
    while (written := _written(url)) < spans and time.perf_counter() < deadline:
        time.sleep(POLL_S)
    return written


class _Load:
    """Client threads sending distinct bodies; optionally paced to an offered span rate."""

    def __init__(self, url: str, bodies: list[bytes], spans_per_request: int, clients: int) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port
        self.bodies = bodies
        self.spans = spans_per_request
        self.clients = clients
        self.next = 0
        self.acked = 0
        self.refused = 0
        self.errors = 0
        self.ran_out = False  # every body was sent before the time was up: the phase ended early
        self.lock = threading.Lock()

    def _take(self) -> bytes | None:
        with self.lock:
            if self.next >= len(self.bodies):
                self.ran_out = True
                return None
            body = self.bodies[self.next]
            self.next += 1
            return body

    def run(self, seconds: float, rate: float | None = None) -> float:
        stop = threading.Event()
        interval = self.spans * self.clients / rate if rate else 0.0

        def client() -> None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            due = time.monotonic()
            while not stop.is_set():
                if interval:
                    due += interval
                    delay = due - time.monotonic()
                    if delay > 0:
                        stop.wait(delay)
                body = self._take()
                if body is None:
                    break
                try:
                    connection.request(
                        "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
                    )
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.errors += 1
                    connection.close()
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                    continue
                with self.lock:
                    if response.status == 200:
                        self.acked += self.spans
                    else:
                        self.refused += 1
                if response.status != 200 and not interval:
                    time.sleep(0.05)
            connection.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(self.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        deadline = started + seconds
        for thread in threads:  # until the time is up or every body has been sent
            thread.join(max(0.0, deadline - time.perf_counter()))
        elapsed = time.perf_counter() - started
        stop.set()
        for thread in threads:
            thread.join(60)
        return elapsed if self.ran_out else time.perf_counter() - started


def run_bench(
    seconds: float = 10.0,
    clients: int = 4,
    spans_per_request: int = 500,
    work_dir: Path | None = None,
    receivers: int | None = None,
    max_rate: float = 300_000.0,
    keep: bool = False,
) -> dict[str, Any]:
    """Run the benchmark; returns the figures (see the module docstring). The store it made (~3 GB
    after a 10 s run) is removed afterwards unless ``keep``."""
    base = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="tower-bench-ingest-"))
    base.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    generator = DistinctBodies(spans_per_request, time.time_ns() - 2 * 3_600_000_000_000)
    # enough distinct bodies for phase 1 at up to max_rate spans/s (phase 2's are made after the drain,
    # once its rate is known: until 1 December the bench made both phases' bodies up front at 120k
    # spans/s, and when the receivers acknowledged faster phase 2 ran out after a few requests)
    count = int(seconds * max_rate / spans_per_request) + 2 * clients
    bodies = [generator.body(index) for index in range(count)]
    ExportTraceServiceRequest.FromString(bodies[-1])  # the patched bodies are valid OTLP

    extra = {} if receivers is None else {"TOWER_COLLECTOR__RECEIVERS": str(receivers)}
    process, url = _start_server(base / "server", extra)
    samples: list[float] = []
    sampling = threading.Event()

    def sample_rss() -> None:
        while not sampling.is_set():
            samples.append(sum(_status_mib(pid, "VmRSS") for pid in _tree(process.pid)))
            sampling.wait(0.2)

    try:
        pids = _tree(process.pid)
        cpu_before = {pid: _cpu_seconds(pid) for pid in pids}
        engine_before = _metric(url, "tower_collector_engine_cpu_seconds")
        written_before = _written(url)
        load = _Load(url, bodies, spans_per_request, clients)
        ack_elapsed = load.run(seconds)
        acked = load.acked
        sending_cpu = sum(_cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in pids if _is_receiver(pid))
        started = time.perf_counter() - ack_elapsed
        written = _wait_written(url, written_before + acked) - written_before
        durable_elapsed = time.perf_counter() - started
        time.sleep(3.0)  # merges of the parts just written
        pids = _tree(process.pid)
        cpu = {pid: _cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in pids}
        time.sleep(1.2)  # the writer samples engine CPU once a second
        engine = _metric(url, "tower_collector_engine_cpu_seconds") - engine_before
        receiver_pids = [pid for pid in pids if _is_receiver(pid)]
        receiver_peak = max((_status_mib(pid, "VmHWM") for pid in receiver_pids), default=None)
        server_peak = _status_mib(process.pid, "VmHWM")
        total_cpu = sum(cpu.values())
        receiver_cpu = (
            sum(cpu[pid] for pid in receiver_pids) if receiver_pids else max(0.0, total_cpu - engine)
        )
        durable_rate = acked / durable_elapsed if durable_elapsed else 0.0

        # phase 2: twice the durable rate, paced; peak RSS of every tower process together
        offered = 2 * durable_rate
        overload_clients = max(clients, 8)
        overload_count = int(seconds * offered / spans_per_request) + 2 * overload_clients
        del bodies
        bodies = [generator.body(index) for index in range(count, count + overload_count)]
        overload = _Load(url, bodies, spans_per_request, overload_clients)
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        overload_elapsed = overload.run(seconds, rate=offered)
        overload_written = _wait_written(url, written_before + acked + overload.acked) - (
            written_before + written
        )
        sampling.set()
        sampler.join(5)
        peak_hwm = sum(_status_mib(pid, "VmHWM") for pid in _tree(process.pid))
    finally:
        sampling.set()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        if not keep:
            shutil.rmtree(base / "server", ignore_errors=True)
            if not work_dir:
                shutil.rmtree(base, ignore_errors=True)

    return {
        "clients": clients,
        "spans_per_request": spans_per_request,
        "attributes_per_span": 13,
        "distinct_spans": True,
        "receiver_processes": len(receiver_pids),
        "seconds": round(ack_elapsed, 2),
        "acknowledged_spans": acked,
        "written_spans": written,
        "acknowledged_spans_per_s": round(acked / ack_elapsed),
        "durable_spans_per_s": round(durable_rate),
        "drain_seconds_after_load": round(durable_elapsed - ack_elapsed, 2),
        "receiver_cpu_us_per_span": round(receiver_cpu / acked * 1e6, 2) if acked else None,
        "receiver_cpu_us_per_span_while_sending": round(sending_cpu / acked * 1e6, 2) if acked else None,
        "engine_cpu_us_per_span": round(engine / acked * 1e6, 2) if acked else None,
        "tower_cpu_us_per_span": round(total_cpu / acked * 1e6, 2) if acked else None,
        "receiver_peak_rss_mib": round(receiver_peak, 1) if receiver_peak is not None else None,
        "server_peak_rss_mib": round(server_peak, 1),
        "refused_requests": load.refused,
        "client_errors": load.errors,
        "ran_out_of_bodies": load.ran_out,
        "overload": {
            "offered_spans_per_s": round(offered),
            "seconds": round(overload_elapsed, 2),
            "acknowledged_spans": overload.acked,
            "written_spans": overload_written,
            "acknowledged_spans_per_s": round(overload.acked / overload_elapsed) if overload_elapsed else 0,
            "refused_requests": overload.refused,
            "client_errors": overload.errors,
            "ran_out_of_bodies": overload.ran_out,
            "tower_peak_rss_mib": round(max(samples, default=0.0), 1),
            "tower_peak_rss_hwm_sum_mib": round(peak_hwm, 1),
        },
        "tower_peak_rss_mib": round(max(samples, default=0.0), 1),
        "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "targets": {
            "receiver_cpu_us_per_span": 5,
            "durable_spans_per_s": 60_000,
            "engine_cpu_us_per_span": 20,
            "receiver_peak_rss_mib": 100,
            "tower_peak_rss_mib": 1024,
        },
        "machine_cpus": os.cpu_count(),
    }
