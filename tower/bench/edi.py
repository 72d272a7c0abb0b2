"""``tower bench edi``: EDI X12 agent throughput into a real collector on a fresh embedded store (JSON).

Generates ``files`` 850 interchanges of ``orders`` purchase orders each (hand-rolled 004010 layout),
then measures, on the same files: parse-only rate (the X12 reader alone), and the agent end to end
(stability check, sha256, parse, span build, OTLP/HTTP export to an in-process collector, ledger),
and the time until every span is durable in ClickHouse. With ``big_mib``, one file of that size is
then sent by ``tower agent edi --once`` in a process of its own, whose peak RSS is reported
(``big_file.agent_peak_rss_mib``: the bound for a 50 MiB file is 200 MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.agents.edi import EdiAgent
from collector.agents.emitter import Emitter
from collector.agents.settings import EdiAgentSettings
from collector.agents.x12 import parse_file
from collector.testing import running_collector
from storage import StorageSettings, open_store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES
from tracing.otlp_http import otlp_exporter


def write_850(path: Path, isa: int, orders: int, lines: int = 3) -> int:
    """One interchange of ``orders`` 850s; returns its segment count."""
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'BENCHPARTNER':<15}*ZZ*{'DISTCO':<15}*261126*1200*U*00401*{isa:09d}*0*P*>",
        f"GS*PO*BENCHPARTNER*DISTCO*20261126*1200*{isa}*X*004010",
    ]
    for n in range(1, orders + 1):
        st = f"{n:04d}"
        body = [f"ST*850*{st}", f"BEG*00*SA*PO-{isa}-{n}**20261126", "REF*DP*042", "N1*ST*DC 4*92*0004"]
        body += [f"PO1*{i}*{i * 2}*EA*4.20**VP*SKU-{i:03d}" for i in range(1, lines + 1)]
        body += [f"CTT*{lines}"]
        body.append(f"SE*{len(body) + 1}*{st}")
        segments += body
    segments += [f"GE*{orders}*{isa}", f"IEA*1*{isa:09d}"]
    path.write_text("~\n".join(segments) + "~\n", encoding="ascii")
    return len(segments)


def write_big_file(path: Path, mib: int, lines: int = 20) -> tuple[int, int]:
    """One interchange of 850s (``lines`` lines each) of about ``mib`` MiB; (segments, transaction sets)."""
    order = 0
    segments = 2
    limit = mib * 1024 * 1024 - 200
    with open(path, "w", encoding="ascii") as fh:
        fh.write(
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{'BIGPARTNER':<15}*ZZ*{'DISTCO':<15}*261126*1200*U*00401*000777001*0*P*>~\n"
            "GS*PO*BIGPARTNER*DISTCO*20261126*1200*777001*X*004010~\n"
        )
        po1 = "".join(f"PO1*{i}*{i * 2}*EA*4.20**VP*SKU-{i:03d}~\n" for i in range(1, lines + 1))
        while fh.tell() < limit - 2048:
            order += 1
            st = f"{order:09d}"
            fh.write(f"ST*850*{st}~\nBEG*00*SA*PO-BIG-{order}**20261126~\nN1*ST*DC 4*92*0004~\n{po1}")
            fh.write(f"CTT*{lines}~\nSE*{lines + 5}*{st}~\n")
            segments += lines + 5
        fh.write(f"GE*{order}*777001~\nIEA*1*000777001~\n")
    return segments + 2, order


_LAUNCHER = (
    "import json, resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(json.dumps({'exit_code': rc, 'peak_rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
)


def big_file_run(collector_endpoint: str, base: Path, mib: int) -> dict[str, Any]:
    """``tower agent edi --once`` on one ``mib`` MiB file, in its own process: time, spans, peak RSS."""
    inbound = base / "big-inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    path = inbound / "big.x12"
    segments, sets = write_big_file(path, mib)
    out = base / "big-agent.out"
    env = {
        **os.environ,
        "TOWER_STORAGE__DATA_DIR": str(base / "big-agent-data"),
        "TOWER_COLLECTOR__AGENTS__EDI__SYSTEM_INSTANCE": "edi-big-file",
    }
    env.pop("TOWER_CONFIG", None)
    command = [sys.executable, "-m", "tower.cli", "agent", "edi", "--once", "--settle", "0"]
    command += ["--inbound", str(inbound), "--endpoint", collector_endpoint]
    started = time.perf_counter()
    with open(out, "wb") as fh:
        # through a small launcher: a child forked from this process (which holds the embedded engine)
        # would count this process's pages in its peak RSS until it execs
        launcher = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command],
            stdout=subprocess.PIPE,
            stderr=fh,
            env=env,
            check=False,
        )
    seconds = time.perf_counter() - started
    lines = launcher.stdout.decode(errors="replace").strip().splitlines()
    measured = json.loads(lines[-1])
    return {
        "bytes": path.stat().st_size,
        "segments": segments,
        "transaction_sets": sets,
        "exit_code": measured["exit_code"],
        "agent_says": lines[-2] if len(lines) > 1 else out.read_text(errors="replace")[-300:],
        "seconds": round(seconds, 3),
        "segments_per_s": round(segments / seconds),
        "agent_peak_rss_mib": round(measured["peak_rss_kib"] / 1024, 1),
    }


def run_bench(
    files: int = 200, orders: int = 20, work_dir: Path | None = None, big_mib: int = 0
) -> dict[str, Any]:
    base = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="tower-bench-edi-"))
    inbound = base / "inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    segments = sum(write_850(inbound / f"850_{i:06d}.x12", 100000 + i, orders) for i in range(files))
    paths = sorted(inbound.iterdir())
    total_bytes = sum(p.stat().st_size for p in paths)
    old = time.time() - 60
    for p in paths:
        os.utime(p, (old, old))

    started = time.perf_counter()
    for p in paths:
        parse_file(p)
    parse_s = time.perf_counter() - started

    big: dict[str, Any] | None = None
    store = open_store(StorageSettings(data_dir=base / "data"), command="tower bench edi")
    try:
        migrate(store, KEY_ROLES)
        with running_collector(store, base / "spool") as collector:
            emitter = Emitter(otlp_exporter(collector.http_endpoint), "edi-gateway", "edi")
            agent = EdiAgent(EdiAgentSettings(inbound_dirs=[inbound], settle_s=2), emitter, base / "state")
            started = time.perf_counter()
            report = agent.scan_once()
            agent_s = time.perf_counter() - started
            collector.wait_drained(300)
            durable_s = time.perf_counter() - started
            agent.ledger.close()
            big = big_file_run(collector.http_endpoint, base, big_mib) if big_mib else None
            if big is not None:
                collector.wait_drained(600)
        stored = int(store.scalar("SELECT count() FROM otel_traces WHERE ServiceName = 'edi-gateway'") or 0)
        if big is not None:
            big["spans_in_clickhouse"] = int(
                store.scalar("SELECT count() FROM otel_traces WHERE ServiceName = 'edi-big-file'") or 0
            )
    finally:
        store.close()
    sets = files * orders
    return {
        "files": files,
        "orders_per_file": orders,
        "bytes": total_bytes,
        "segments": segments,
        "parse_only": {
            "seconds": round(parse_s, 3),
            "files_per_s": round(files / parse_s, 1),
            "segments_per_s": round(segments / parse_s),
            "mib_per_s": round(total_bytes / parse_s / 2**20, 2),
        },
        "agent": {
            "processed_files": len(report.processed),
            "quarantined_files": len(report.quarantined),
            "spans_exported": report.spans,
            "seconds": round(agent_s, 3),
            "files_per_s": round(files / agent_s, 1),
            "transaction_sets_per_s": round(sets / agent_s, 1),
            "spans_per_s": round(report.spans / agent_s, 1),
        },
        "durable": {"seconds": round(durable_s, 3), "spans_in_clickhouse": stored},
        **({"big_file": big} if big is not None else {}),
    }
