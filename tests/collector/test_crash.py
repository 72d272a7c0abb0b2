"""Crash: a real ``tower serve --roles collector`` under load (its receiver processes included) is killed
with SIGKILL after N acknowledged requests; after a restart every acknowledged span is in ClickHouse
exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from support import cli

from collector.testing import order_hop_request

ACKS_BEFORE_KILL = 12
SPANS_PER_REQUEST = 200

VERIFY = """
import json, sys
from storage import StorageSettings, open_store
store = open_store(StorageSettings(data_dir=sys.argv[1]), command="crash-test verify")
acked = json.load(open(sys.argv[2]))
print(json.dumps({
    "acked_present": store.scalar(
        "SELECT count() FROM otel_traces WHERE SpanId IN {ids:Array(String)}", {"ids": acked}),
    "duplicates": store.scalar(
        "SELECT count() FROM (SELECT SpanId FROM otel_traces GROUP BY SpanId HAVING count() > 1)"),
    "total": store.scalar("SELECT count() FROM otel_traces"),
}))
store.close()
"""


def start_collector(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = cli.start(
        "serve",
        "--roles",
        "collector",
        data_dir=data_dir,
        env={
            "TOWER_COLLECTOR__HTTP_PORT": "0",
            "TOWER_COLLECTOR__GRPC_PORT": "0",
            "TOWER_COLLECTOR__BATCH_MAX_ROWS": "1000",
            "TOWER_COLLECTOR__FLUSH_INTERVAL_S": "0.05",
            "TOWER_COLLECTOR__RETRY_MAX_BACKOFF_S": "0.5",
            "TOWER_LOG_LEVEL": "INFO",
        },
        new_session=True,  # its own process group: the receivers die with it at once
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"collector listening http=(http://\S+)", line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
            return process, match.group(1)
    process.kill()
    raise AssertionError("collector did not start:\n" + "".join(lines[-30:]))


@pytest.mark.slow
def test_sigkill_under_load_loses_and_doubles_no_acknowledged_span(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process, url = start_collector(data_dir)
    acked: list[str] = []
    acked_requests = 0
    lock = threading.Lock()
    killed = threading.Event()

    def send(seed: int) -> None:
        nonlocal acked_requests
        if killed.is_set():
            return
        request = order_hop_request(SPANS_PER_REQUEST, seed=seed)
        try:
            response = httpx.post(
                url + "/v1/traces",
                content=request.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"},
                timeout=30,
            )
        except httpx.HTTPError:
            return  # not acknowledged: the sender would retry
        if response.status_code != 200:
            return
        with lock:
            acked.extend(s.span_id.hex() for s in request.resource_spans[0].scope_spans[0].spans)
            acked_requests += 1
            if acked_requests >= ACKS_BEFORE_KILL and not killed.is_set():
                killed.set()
                os.killpg(process.pid, signal.SIGKILL)  # every process, mid-load: requests in flight

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(200)))
        assert killed.is_set()
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert len(acked) >= ACKS_BEFORE_KILL * SPANS_PER_REQUEST
    spool = data_dir / "spool"
    left = [*spool.glob("*.wal"), *spool.glob("r*/*.wal"), *spool.glob("r*/*.open")]
    assert left, "the kill came after everything was written: nothing to replay"

    # restart on the same data dir: the spool is replayed
    process, url = start_collector(data_dir)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if httpx.get(url + "/healthz").json()["spool_pending_spans"] == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the spool did not drain after the restart")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    ids_file = tmp_path / "acked.json"
    ids_file.write_text(json.dumps(acked))
    verify = subprocess.run(
        [sys.executable, "-c", VERIFY, str(data_dir), str(ids_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(verify.stdout.strip().splitlines()[-1])
    assert result["acked_present"] == len(acked)  # every acknowledged span is there ...
    assert result["duplicates"] == 0  # ... exactly once
    assert result["total"] >= len(acked)
