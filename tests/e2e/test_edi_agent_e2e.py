"""End to end: the simulator's EDI channel as X12 files -> EDI agent -> real collector -> ClickHouse.

The simulated trading partners' 850 files are written as real X12 interchanges (the gateway spans
of the simulator are *not* sent: the agent produces them from the files); everything else the
simulator produces goes over OTLP to the same collector. The order is then found by its EDI control
numbers and its timeline holds the agent's hop.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from clock import ANCHOR

from collector.agents.carrier import sign_standard
from collector.agents.edi import EdiAgent
from collector.agents.emitter import Emitter
from collector.agents.settings import EdiAgentSettings
from collector.testing import running_collector
from kpis.policy import load_policy
from storage import Store
from tower.settings import TowerSettings
from tracing import conventions as c
from tracing.otlp_http import otlp_exporter
from tracing.records import SpanRecord
from tracing.simulator import ExceptionRates, Simulator, SimulatorConfig
from tracing.sinks import OtlpSink
from tracing.timeline import find_orders, order_timeline

E2E_SECRET = "whsec_" + base64.b64encode(b"end-to-end-webhook-secret-key!!!").decode()
END = ANCHOR  # a fixed point of the working week that the store's retention keeps (tests/clock.py)


def x12_850_file(received: SpanRecord, translations: list[SpanRecord]) -> str:
    """The partner's 850 interchange behind a simulated 'receive 850 file' span (004010, * ~ >)."""
    a = received.attributes
    at = datetime.fromtimestamp(received.start_ns / 1e9, UTC)
    isa13, gs06 = str(a[c.EDI_INTERCHANGE_CONTROL_NUMBER]), str(a[c.EDI_GROUP_CONTROL_NUMBER])
    sender, receiver = str(a[c.EDI_SENDER_ID]), str(a[c.EDI_RECEIVER_ID])
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*{at:%y%m%d}*{at:%H%M}*U*00401*{isa13}*0*P*>",
        f"GS*PO*{sender}*{receiver}*{at:%Y%m%d}*{at:%H%M}*{gs06}*X*004010",
    ]
    for t in translations:
        body = [
            f"ST*850*{t.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER]}",
            f"BEG*00*SA*{t.attributes[c.ORDER_CUSTOMER_PO]}**{at:%Y%m%d}",
            "PO1*1*10*EA*4.20**VP*WID-100",
            "CTT*1",
        ]
        body.append(f"SE*{len(body) + 1}*{t.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER]}")
        segments += body
    segments += [f"GE*{len(translations)}*{gs06}", f"IEA*1*{isa13}"]
    assert len(segments[0]) == 105
    return "~\n".join(segments) + "~\n"


def simulate() -> tuple[list[SpanRecord], dict[str, tuple[SpanRecord, list[SpanRecord]]]]:
    rates = ExceptionRates(edi_envelope=0.0, edi_mapping=0.0, duplicate=0.0, malformed=0.0)
    config = SimulatorConfig(seed=5, orders=40, days=2, end=END, rates=rates, channel_mix={"edi": 1.0})
    records = list(Simulator(config).generate())
    files: dict[str, tuple[SpanRecord, list[SpanRecord]]] = {}
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    for r in records:
        if r.name == "translate 850":
            children[r.parent_span_id].append(r)
    for r in records:
        if r.name == "receive 850 file":
            files[str(r.attributes[c.BATCH_ID])] = (r, sorted(children[r.span_id], key=lambda s: s.start_ns))
    gateway_traces = {received.trace_id for received, _ in files.values()}
    others = [r for r in records if r.trace_id not in gateway_traces]
    return others, files


def write_files(files: dict[str, tuple[SpanRecord, list[SpanRecord]]], inbound: Path) -> None:
    inbound.mkdir(parents=True, exist_ok=True)
    for name, (received, translations) in files.items():
        path = inbound / name
        path.write_text(x12_850_file(received, translations), encoding="ascii")
        os.utime(path, ns=(received.start_ns, received.start_ns))  # the file landed when the span says


@pytest.mark.slow
def test_simulated_edi_files_are_found_by_control_number_in_the_timeline(
    store: Store, tmp_path: Path
) -> None:
    others, files = simulate()
    assert len(files) >= 3
    write_files(files, tmp_path / "inbound")
    with running_collector(store, tmp_path / "spool", tokens=["e2e-token"]) as collector:
        OtlpSink(endpoint=collector.http_endpoint, token="e2e-token").send(others)
        emitter = Emitter(otlp_exporter(collector.http_endpoint, "e2e-token"), "edi-gateway", "edi")
        agent = EdiAgent(
            EdiAgentSettings(inbound_dirs=[tmp_path / "inbound"], settle_s=0),
            emitter,
            tmp_path / "state",
        )
        report = agent.scan_once()
        assert sorted(report.processed) == sorted(files) and not report.quarantined
        assert collector.wait_drained(60)

    name, (received, translations) = sorted(files.items())[0]
    isa13 = str(received.attributes[c.EDI_INTERCHANGE_CONTROL_NUMBER])
    st02 = str(translations[0].attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER])
    po = str(translations[0].attributes[c.ORDER_CUSTOMER_PO])

    by_st = find_orders(store, st02)
    assert len(by_st) == 1, by_st
    order_id = by_st[0].order_id
    assert order_id in {m.order_id for m in find_orders(store, isa13)}
    assert [m.order_id for m in find_orders(store, po)] == [order_id]

    timeline = order_timeline(store, order_id)
    agent_spans = [s for s in timeline.spans if s.resource_attributes.get("tower.agent.kind") == "edi"]
    names = {s.name for s in agent_spans}
    assert "EDI 850 purchase order" in names, names
    tx = next(s for s in agent_spans if s.name == "EDI 850 purchase order")
    assert tx.attributes[c.EDI_TRANSACTION_SET_CONTROL_NUMBER] == st02
    assert tx.attributes[c.EDI_INTERCHANGE_CONTROL_NUMBER] == isa13
    assert tx.attributes["edi.file.name"] == name
    assert tx.start == datetime.fromtimestamp(received.start_ns // 1000 / 1e6, UTC)
    capture = [h for h in timeline.hops if h.span_id == tx.span_id]
    assert capture and capture[0].stage == "capture" and capture[0].system == "edi-gateway"


def _logged_url(caplog: pytest.LogCaptureFixture, pattern: str, timeout: float = 30) -> str:
    """The URL a service logs once it listens on the port it bound (port 0: nothing is guessed free)."""
    found = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in list(caplog.records):
            if match := found.search(record.getMessage()):
                return match.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s")


def _wait_for(store: Store, key: str, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = find_orders(store, key)
        if matches:
            return [m.order_id for m in matches]
        time.sleep(0.2)
    return []


@pytest.mark.slow
def test_tower_serve_runs_the_configured_agents_with_the_collector(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """EDI files, a carrier webhook and a DB poller configured under collector.agents, run by serve."""
    from tower.serve import run

    inbound = tmp_path / "inbound"
    inbound.mkdir()
    erp = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    with erp.begin() as conn:
        conn.execute(sa.text("CREATE TABLE picks (seq INTEGER PRIMARY KEY, order_no TEXT, wave TEXT)"))
        conn.execute(sa.text("INSERT INTO picks VALUES (1, 'SO-900001', 'W-1'), (2, 'SO-900002', 'W-1')"))
    erp.dispose()
    caplog.set_level(logging.INFO)
    settings = TowerSettings.model_validate(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "collector": {
                "http_port": 0,
                "grpc_port": 0,
                "flush_interval_s": 0.05,
                "tokens": ["serve-token"],
                "agents": {
                    "edi": {
                        "enabled": True,
                        "inbound_dirs": [str(inbound)],
                        "settle_s": 0,
                        "poll_s": 0.1,
                    },
                    "carrier": {"enabled": True, "port": 0, "secret": E2E_SECRET},
                    "pollers": [
                        {
                            "name": "wms-picks",
                            "enabled": True,
                            "url": f"sqlite:///{tmp_path / 'erp.db'}",
                            "table": "picks",
                            "cursor_column": "seq",
                            "poll_s": 0.1,
                            "system_kind": "wms",
                            "system_instance": "wms-main",
                            "mapping": {
                                "stage": "pick",
                                "attributes": {"order.id": "order_no", "warehouse.id": "wave"},
                            },
                        }
                    ],
                },
            },
        }
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=run, args=(settings, store, load_policy(), ["collector"], stop), daemon=True
    )
    thread.start()
    try:
        src = Path(__file__).parent.parent / "collector" / "agents" / "fixtures" / "856_asn.x12"
        (inbound / "asn.x12").write_bytes(src.read_bytes())
        assert _wait_for(store, "1Z999AA10123456795") == ["SO-104233"]  # tracking number from the 856

        event = {
            "id": "evt_e2e_1",
            "object": "Event",
            "description": "tracker.updated",
            "result": {
                "tracking_code": "TRK-E2E-1",
                "status": "delivered",
                "carrier": "FedEx",
                "order_id": "SO-104233",
            },
        }
        body = json.dumps(event).encode()
        # the webhook starts with the collector role, on the port it bound (port 0)
        url = _logged_url(caplog, r"carrier webhook listening on (http://\S+)")
        assert url.endswith("/webhooks/carrier")

        def signed(msg_id: str, secret: str = E2E_SECRET) -> dict[str, str]:
            stamp = int(time.time())  # the webhook judges signed timestamps against its own clock
            return {
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign_standard(secret, msg_id, stamp, body),
            }

        response = httpx.post(url, content=body, headers=signed("msg_e2e_1"))
        assert response.status_code == 200, response.text
        assert _wait_for(store, "TRK-E2E-1") == ["SO-104233"]
        replay = httpx.post(url, content=body, headers=signed("msg_e2e_1"))
        assert replay.json()["status"] == "duplicate"
        other = "whsec_" + base64.b64encode(b"not-the-secret-of-this-webhook!!").decode()
        forged = httpx.post(url, content=body, headers=signed("msg_e2e_2", other))
        assert forged.status_code == 401

        assert _wait_for(store, "SO-900002") == ["SO-900002"]  # the poller's rows
        stored = "SELECT count() FROM otel_traces WHERE SpanAttributes['shipment.event.id'] = 'evt_e2e_1'"
        assert store.scalar(stored) == 1  # the replayed event was stored once
        ledger = tmp_path / "data" / "agents" / "edi" / "edi-ledger.sqlite3"
        assert ledger.exists()
        assert (
            (tmp_path / "data" / "agents" / "poller" / "poller-wms-picks.cursor.json")
            .read_text()
            .startswith('{"cursor": 2')
        )
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
