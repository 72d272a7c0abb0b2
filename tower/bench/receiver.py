"""``tower bench receiver``: one receiver process alone, CPU-seconds per acknowledged span, as JSON.

A ``python -m collector.receiver`` process (no engine, no writer) is started on a fresh spool under
a work directory; a thread of this process plays the writer by deleting the segments the receiver
sealed, once a second. Client threads send distinct realistic order-hop requests (the bodies of ``tower bench
ingest``: 500 spans, 13 attributes each) over keep-alive connections as fast as they are
acknowledged. The receiver's CPU (user + system, all its threads, from ``/proc``) between the first
request and the last answer, divided by the acknowledged spans, is ``receiver_cpu_us_per_span``;
its threads are broken down by name. The machine is shared: CPU time per span is the fair figure,
and the load average is printed with it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from collector.service import start_receiver
from collector.settings import CollectorSettings
from tower.bench.ingest import DistinctBodies

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(stat_path: Path, kernel: bool = False) -> tuple[str, float]:
    """(thread or process name, CPU seconds: user + system, or system only with ``kernel``)."""
    try:
        text = stat_path.read_text()
    except OSError:
        return "?", 0.0
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, (int(fields[12]) + (0 if kernel else int(fields[11]))) / _TICKS


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of ``pid`` (threads of the same name summed)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            name, seconds = _cpu(Path(f"/proc/{pid}/task/{task}/stat"))
            found[name] = found.get(name, 0.0) + seconds
    return found


# How often the played writer takes what the receiver sealed (the real one inserts a batch every
# few seconds under load, and the receiver's segments grow meanwhile).
WRITER_PERIOD_S = 1.0


def _play_writer(directory: Path, stop: threading.Event) -> None:
    """Delete what the receiver sealed, as the writer would once it stored it."""
    while not stop.wait(WRITER_PERIOD_S):
        for path in directory.glob("*.wal"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def run_bench(
    requests: int = 1000,
    clients: int = 4,
    spans_per_request: int = 500,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the figures (see the module docstring)."""
    base = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="tower-bench-receiver-"))
    spool_root = base / "spool"
    shutil.rmtree(spool_root, ignore_errors=True)
    spool_root.mkdir(parents=True)
    generator = DistinctBodies(spans_per_request, time.time_ns() - 2 * 3_600_000_000_000)
    bodies = [generator.body(index) for index in range(requests)]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    settings = CollectorSettings(spool_max_bytes=8 * 1024 * 1024 * 1024)
    process = start_receiver(
        settings,
        index=0,
        receivers=1,
        spool_root=spool_root,
        http_socket=listener,
        grpc_port=0,
        retention_days=0,
        log_level="WARNING",
    )
    stop = threading.Event()
    writer = threading.Thread(target=_play_writer, args=(spool_root / "r0", stop), daemon=True)
    writer.start()
    lock = threading.Lock()
    next_body = 0
    acked = 0
    refused = 0

    def client() -> None:
        nonlocal next_body, acked, refused
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if next_body >= len(bodies):
                    break
                body = bodies[next_body]
                next_body += 1
            connection.request(
                "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
            )
            response = connection.getresponse()
            response.read()
            with lock:
                if response.status == 200:
                    acked += spans_per_request
                else:
                    refused += 1
        connection.close()

    try:
        time.sleep(0.5)  # the receiver settles (imports done, threads started)
        load_before = os.getloadavg()
        threads_before = _threads(process.pid)
        _name, cpu_before = _cpu(Path(f"/proc/{process.pid}/stat"))
        _name, kernel_before = _cpu(Path(f"/proc/{process.pid}/stat"), kernel=True)
        started = time.perf_counter()
        workers = [threading.Thread(target=client) for _ in range(clients)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        _name, cpu_after = _cpu(Path(f"/proc/{process.pid}/stat"))
        _name, kernel_after = _cpu(Path(f"/proc/{process.pid}/stat"), kernel=True)
        threads_after = _threads(process.pid)
        load_after = os.getloadavg()
    finally:
        stop.set()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        listener.close()
        shutil.rmtree(spool_root if work_dir else base, ignore_errors=True)
    cpu = cpu_after - cpu_before
    per_thread = {
        name: round((seconds - threads_before.get(name, 0.0)) / acked * 1e6, 2)
        for name, seconds in sorted(threads_after.items())
        if acked and seconds - threads_before.get(name, 0.0) > 0
    }
    return {
        "requests": requests,
        "clients": clients,
        "spans_per_request": spans_per_request,
        "acknowledged_spans": acked,
        "refused_requests": refused,
        "seconds": round(elapsed, 2),
        "receiver_cpu_seconds": round(cpu, 3),
        "receiver_cpu_us_per_span": round(cpu / acked * 1e6, 2) if acked else None,
        "receiver_system_cpu_us_per_span": round((kernel_after - kernel_before) / acked * 1e6, 2)
        if acked
        else None,
        "threads_cpu_us_per_span": per_thread,
        "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
    }


if __name__ == "__main__":  # python -m tower.bench.receiver [requests]
    print(json.dumps(run_bench(requests=int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
