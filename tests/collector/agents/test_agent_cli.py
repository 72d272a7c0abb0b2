"""``tower agent edi|poller|carrier`` as a user runs them: a real subprocess sending to the real collector."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from clock import ANCHOR
from support import cli
from support.ports import refused_port

from tracing import conventions as c

# ``tower agent ...`` without loading every other command (the same typer app ``tower`` mounts);
# the first test runs the real ``tower`` entry point.
_AGENT_ONLY = "import sys; from tower.commands.agent import app; app(sys.argv[2:], prog_name='tower agent')"


def tower(
    *args: str, data_dir: Path, full: bool = False, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    assert args[0] == "agent"
    argv = None if full else ["-c", _AGENT_ONLY]
    return cli.tower(*args, data_dir=data_dir, env=env_vars, argv=argv, timeout=120)


def test_edi_once_processes_and_quarantines(
    tmp_path: Path, real_collector: Any, service: str, drop: Any
) -> None:
    inbound = tmp_path / "inbound"
    drop("850_two_orders.x12", inbound)
    drop("truncated.x12", inbound)
    args = [
        "agent",
        "edi",
        "--once",
        "--inbound",
        str(inbound),
        "--endpoint",
        real_collector.url,
        "--token",
        "agent-token",
    ]
    as_service = {"TOWER_COLLECTOR__AGENTS__EDI__SYSTEM_INSTANCE": service}
    fresh = tower(
        *args, "--settle", "30", data_dir=tmp_path / "data", **as_service
    )  # just written: not read yet
    assert "processed 0, quarantined 0, waiting 2" in fresh.stdout
    old = time.time() - 60
    for path in inbound.iterdir():
        os.utime(path, (old, old))
    result = tower(*args, data_dir=tmp_path / "data", full=True, **as_service)
    assert result.returncode == 0, result.stderr
    assert "processed 1, quarantined 1, waiting 0, failed 0, spans 3" in result.stdout
    assert (tmp_path / "data" / "agents" / "edi" / "quarantine" / "truncated.x12.reason.txt").exists()
    assert sorted(
        s.attributes.get(c.ORDER_CUSTOMER_PO) for s in real_collector.named(service, "EDI 850")
    ) == [
        "PO-77120",
        "PO-77121",
    ]
    again = tower(*args, data_dir=tmp_path / "data", **as_service)  # a second run: the ledger says done
    assert "processed 0, quarantined 0" in again.stdout
    assert len(real_collector.spans(service)) == 3


def test_edi_once_reports_an_unreachable_collector_and_keeps_the_file(tmp_path: Path, drop: Any) -> None:
    inbound = tmp_path / "inbound"
    drop("810_invoice.x12", inbound)
    with refused_port() as closed:
        result = tower(
            "agent",
            "edi",
            "--once",
            "--inbound",
            str(inbound),
            "--settle",
            "0",
            "--endpoint",
            f"http://127.0.0.1:{closed}",
            data_dir=tmp_path,
            TOWER_COLLECTOR__AGENTS__EDI__EXPORT__TIMEOUT_S="1",
        )
    assert result.returncode == 1
    assert "failed 1" in result.stdout
    assert (inbound / "810_invoice.x12").exists()


def test_edi_without_directories_is_a_clear_error(tmp_path: Path) -> None:
    result = tower("agent", "edi", "--once", data_dir=tmp_path)
    assert result.returncode == 2
    assert "give --inbound and/or --outbound directories" in result.stderr
    absent = tower("agent", "edi", "--once", "--inbound", str(tmp_path / "nope"), data_dir=tmp_path)
    assert absent.returncode == 2
    assert f"not a directory: {tmp_path / 'nope'}" in absent.stderr
    negative = tower(
        "agent", "edi", "--once", "--inbound", str(tmp_path), "--settle", "-5", data_dir=tmp_path
    )
    assert negative.returncode == 2
    assert "invalid value for settle_s: Input should be greater than or equal to 0" in negative.stderr


def test_poller_once_from_a_config_file(tmp_path: Path, real_collector: Any, service: str) -> None:
    db = tmp_path / "erp.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE releases (seq INTEGER PRIMARY KEY, order_no TEXT, released_at TEXT)")
        )
        conn.execute(
            sa.text("INSERT INTO releases VALUES (1, 'SO-1', :t), (2, 'SO-2', NULL)"),
            {"t": f"{ANCHOR.date()}T10:00:00"},
        )
    engine.dispose()
    config = tmp_path / "tower.yaml"
    config.write_text(
        f"""
collector:
  agents:
    pollers:
      - name: releases
        url: sqlite:///{db}
        table: releases
        cursor_column: seq
        system_instance: {service}
        mapping:
          stage: allocation
          start_column: released_at
          attributes: {{order.id: order_no}}
"""
    )
    args = [
        "agent",
        "poller",
        "--once",
        "-c",
        str(config),
        "--endpoint",
        real_collector.url,
        "--token",
        "agent-token",
    ]
    result = tower(*args, data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "exported 2 row(s); cursor 2" in result.stdout
    assert [s.attributes[c.ORDER_ID] for s in real_collector.spans(service)] == ["SO-1", "SO-2"]
    assert tower(*args, data_dir=tmp_path / "data").stdout.startswith("exported 0 row(s)")


def test_a_misspelt_agent_setting_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "tower.yaml"
    config.write_text("collector:\n  agents:\n    edi:\n      inbound_dir: /edi/in\n")
    result = tower("agent", "edi", "--once", "-c", str(config), data_dir=tmp_path)
    assert result.returncode == 2
    assert "invalid setting collector.agents.edi.inbound_dir: unknown setting" in result.stderr


def test_carrier_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    result = tower("agent", "carrier", "--port", "0", data_dir=tmp_path)
    assert result.returncode == 2
    assert "the carrier webhook has no secret: set collector.agents.carrier.secret" in result.stderr


def test_carrier_serves_a_signed_webhook_whose_span_is_found_by_its_tracking_number(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    """``tower agent carrier`` in its own process, sending to the real collector."""
    import base64
    import re
    import signal
    import threading

    import httpx

    from collector.agents.carrier import sign_standard
    from tracing.timeline import find_orders

    secret = "whsec_" + base64.b64encode(b"carrier-cli-test-secret-32-bytes").decode()
    proc = cli.start(
        "agent",
        "carrier",
        "--port",
        "0",
        "--endpoint",
        real_collector.url,
        "--token",
        "agent-token",
        data_dir=tmp_path / "data",
        env={
            "TOWER_COLLECTOR__AGENTS__CARRIER__SECRET": secret,
            "TOWER_COLLECTOR__AGENTS__CARRIER__SYSTEM_INSTANCE": service,
        },
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        for line in proc.stderr:  # the agent logs its URL once it listens on the port it bound
            seen.append(line)
            if found := re.search(r"carrier webhook listening on (http://\S+)", line):
                break
        else:
            raise AssertionError("the carrier agent exited:\n" + "".join(seen[-30:]))
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        url = found.group(1)
        event = {
            "id": "evt_cli_1",
            "object": "Event",
            "description": "tracker.updated",
            "result": {
                "tracking_code": "1ZCLI0000000000001",
                "status": "in_transit",
                "carrier": "UPS",
                "order_id": "SO-CLI-1",
            },
        }
        body = json.dumps(event).encode()

        def signed(key: str) -> dict[str, str]:
            stamp = int(time.time())  # the process judges signed timestamps against its own clock
            signature = sign_standard(key, "msg_cli_1", stamp, body)
            return {
                "webhook-id": "msg_cli_1",
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature,
            }

        other = "whsec_" + base64.b64encode(b"not-the-secret-of-this-webhook!!").decode()
        forged = httpx.post(url, content=body, headers=signed(other))
        assert forged.status_code == 401
        accepted = httpx.post(url, content=body, headers=signed(secret))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    (span,) = real_collector.spans(service)
    assert span.attributes["shipment.event.id"] == "evt_cli_1"
    assert [m.order_id for m in find_orders(real_collector.store, "1ZCLI0000000000001")] == ["SO-CLI-1"]
