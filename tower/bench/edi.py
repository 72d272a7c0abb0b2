"""``tower bench edi``: EDI X12 agent throughput into a real collector on a fresh embedded store (JSON).

Generates ``files`` 850 interchanges of ``orders`` purchase orders each (hand-rolled 004010 layout),
then measures, on the same files: parse-only rate (the X12 reader alone), and the agent end to end
(stability check, sha256, parse, span build, OTLP/HTTP export to an in-process collector, ledger),
and the time until every span is durable in ClickHouse.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.agents.edi import EdiAgent
from collector.agents.emitter import Emitter, otlp_exporter
from collector.agents.settings import EdiAgentSettings
from collector.agents.x12 import parse_file
from collector.testing import running_collector
from storage import StorageSettings, open_store
from storage.migrate import migrate
from tracing.conventions import KEY_ATTRIBUTES


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


def run_bench(files: int = 200, orders: int = 20, work_dir: Path | None = None) -> dict[str, Any]:
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

    store = open_store(StorageSettings(data_dir=base / "data"), command="tower bench edi")
    try:
        migrate(store, KEY_ATTRIBUTES)
        with running_collector(store, base / "spool") as collector:
            emitter = Emitter(otlp_exporter(collector.http_endpoint), "edi-gateway", "edi")
            agent = EdiAgent(EdiAgentSettings(inbound_dirs=[inbound], settle_s=2), emitter, base / "state")
            started = time.perf_counter()
            report = agent.scan_once()
            agent_s = time.perf_counter() - started
            collector.wait_drained(300)
            durable_s = time.perf_counter() - started
            agent.ledger.close()
        stored = int(store.scalar("SELECT count() FROM otel_traces WHERE ServiceName = 'edi-gateway'") or 0)
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
    }
