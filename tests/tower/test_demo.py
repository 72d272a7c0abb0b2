"""``tower demo`` and ``tower simulate`` as users run them: real processes, real collector, real store."""

from __future__ import annotations

import io
import json
import re
import signal
import time
from pathlib import Path

import pytest
from clock import ANCHOR
from rich.console import Console
from support import cli
from support.cli import tower
from support.ports import listening_socket, refused_port
from typer.testing import CliRunner, Result

from collector.testing import running_collector
from storage import Store
from tower.cli import app
from tower.commands.simulate import LiveStatus
from tracing.simulator import Simulator, SimulatorConfig

ROW = re.compile(r"^[│|]\s*(\S+)\s*[│|]\s*(\S+)\s*[│|]\s*(SO-\d+)\s*[│|]\s*(\S+(?: \S+)?)\s*[│|]\s*$")


def demo_env(data_dir: Path) -> dict[str, str]:
    return {
        "TOWER_STORAGE__DATA_DIR": str(data_dir),
        "TOWER_COLLECTOR__HTTP_PORT": "0",
        "TOWER_COLLECTOR__GRPC_PORT": "0",
        "TOWER_WEB__PORT": "0",
    }


@pytest.mark.slow
def test_demo_backfills_and_prints_keys_that_find_their_order(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    env = demo_env(data_dir)
    result = tower(
        "demo", "--data-dir", str(data_dir), "--orders", "50", "--days", "5", "--no-live",
        "--exit-after-backfill", "--no-progress", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [m.groups() for line in result.stdout.splitlines() if (m := ROW.match(line.strip()))]
    key_types = {row[0] for row in rows}
    assert {"order.id", "order.customer_po", "shipment.tracking_number", "invoice.id"} <= key_types, (
        result.stdout
    )
    assert "edi.transaction_set_control_number" in key_types and "order.ecommerce_id" in key_types
    assert all(row[3] == "yes" for row in rows), result.stdout
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+", result.stdout)
    assert re.search(r"log in as demo with password \S+", result.stdout)

    # the keys find their orders in the store the demo filled (tower trace, no server running now)
    for key_type, key, order, _ in rows:
        if key_type in ("order.customer_po", "invoice.id"):
            traced = tower("trace", key, "--json", env={"TOWER_STORAGE__DATA_DIR": str(data_dir)})
            assert traced.returncode == 0, traced.stderr
            assert order in traced.stdout

    # a second demo on the same directory starts from nothing again
    again = tower(
        "demo", "--data-dir", str(data_dir), "--orders", "20", "--days", "2", "--seed", "99", "--no-live",
        "--exit-after-backfill", "--no-progress", env=env,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    tracking = next(key for key_type, key, _, _ in rows if key_type == "shipment.tracking_number")
    gone = tower("trace", tracking, env={"TOWER_STORAGE__DATA_DIR": str(data_dir)})
    assert gone.returncode == 1, "the first demo's orders are gone"


@pytest.mark.slow
def test_demo_keeps_live_traffic_flowing_and_answers_tower_trace_meanwhile(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    with cli.start(
        "demo",
        "--data-dir",
        str(data_dir),
        "--orders",
        "20",
        "--days",
        "2",
        "--live-rate",
        "20000",
        "--duration",
        "300",
        "--no-progress",
        env=demo_env(data_dir),
    ) as demo:  # fmt: skip  (--duration only bounds a run whose test died; the test stops the demo)
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("try:"):
                break
        hint = lines[-1].split()
        assert hint[0] == "try:" and hint[1].startswith("TOWER_API_TOKEN="), "".join(lines)
        # the demo holds the store: tower trace asks its API with the printed token
        traced = tower("trace", hint[-1], "--json", env=dict(item.split("=", 1) for item in hint[1:3]))
        if traced.returncode != 0:
            demo.terminate()
            pytest.fail(f"tower trace failed: {traced.stderr}\ndemo log:\n{demo.communicate(timeout=60)[1]}")
        assert json.loads(traced.stdout)
        # live traffic is sent once a second: on a fast machine the trace above answers before the
        # first tick, and a Ctrl-C then would find nothing sent yet
        time.sleep(3)
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops the demo
        rest, errors = demo.communicate(timeout=120)
    assert demo.returncode == 0, rest + errors
    sent = re.search(r"demo stopped: ([\d,]+) live spans sent", rest)
    assert sent and int(sent.group(1).replace(",", "")) > 0, rest


def test_demo_refuses_a_server_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with refused_port() as closed:
        monkeypatch.setenv("TOWER_STORAGE__DSN", f"http://user:pw@127.0.0.1:{closed}/db")
        result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "fresh embedded store" in result.stderr


def test_simulate_sends_through_a_real_collector(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool", tokens=["t0ken"]) as collector:
        result = tower(
            "simulate", "--url", collector.http_endpoint, "--token", "t0ken", "--orders", "40", "--days", "3",
            "--rate", "credit_hold=1", "--end", ANCHOR.strftime("%Y-%m-%dT%H:%M:%S"), "--no-progress",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        collector.wait_drained()
    summary = json.loads(result.stdout)
    assert summary["spans_backfilled"] > 40 * 10
    assert store.scalar("SELECT count() FROM otel_traces") == summary["spans_backfilled"]
    # --rate credit_hold=1: every credit check sent so far held its order (orders captured in the last
    # minutes may not have reached credit yet: backfill sends only spans that have ended)
    checks, holds = store.query(
        "SELECT count(), countIf(SpanAttributes['order.exception.type'] = 'credit_hold') FROM otel_traces "
        "WHERE SpanName = 'credit check'"
    ).result_rows[0]
    assert 30 <= checks <= 40 and holds == checks


def test_simulate_rejects_bad_options_clearly() -> None:
    runner = CliRunner()

    def simulate(*args: str) -> Result:
        return runner.invoke(app, ["simulate", "--no-progress", *args])

    bad_rate = simulate("--rate", "meteor_strike=0.5")
    assert bad_rate.exit_code == 2 and "--rate expects NAME=VALUE" in bad_rate.stderr
    out_of_range = simulate("--rate", "duplicate=7")
    assert out_of_range.exit_code == 2 and "duplicate must be between 0 and 1" in out_of_range.stderr
    bad_url = simulate("--url", "ftp://example.com")
    assert bad_url.exit_code == 2 and "http(s) URL" in bad_url.stderr
    with refused_port() as closed:
        unreachable = simulate("--url", f"http://127.0.0.1:{closed}", "--orders", "3", "--timeout", "0.5")
    assert unreachable.exit_code == 2 and "did not accept the spans" in unreachable.stderr


def test_demo_says_which_port_is_taken(tmp_path: Path) -> None:
    with listening_socket() as busy:
        env = {**demo_env(tmp_path / "demo"), "TOWER_COLLECTOR__HTTP_PORT": str(busy.getsockname()[1])}
        result = tower(
            "demo", "--data-dir", str(tmp_path / "demo"), "--orders", "5", "--no-progress", env=env
        )
    assert result.returncode == 2
    assert (
        "the collector role could not start" in result.stderr
        and "TOWER_COLLECTOR__HTTP_PORT" in result.stderr
    )


def test_simulate_over_grpc_through_a_real_collector(store: Store, tmp_path: Path) -> None:
    with running_collector(store, tmp_path / "spool", tokens=["t0ken"]) as collector:
        result = CliRunner().invoke(
            app,
            ["simulate", "--protocol", "grpc", "--url", f"http://{collector.grpc_endpoint}", "--token", "t0ken",
             "--orders", "15", "--days", "3", "--end", ANCHOR.isoformat(timespec="seconds"), "--no-progress"],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        collector.wait_drained()
    summary = json.loads(result.stdout)
    assert summary["protocol"] == "grpc" and summary["spans_backfilled"] > 15 * 5
    assert store.scalar("SELECT count() FROM otel_traces") == summary["spans_backfilled"]
    with running_collector(store, tmp_path / "spool2", tokens=["t0ken"]) as collector:
        refused = CliRunner().invoke(
            app,
            ["simulate", "--protocol", "grpc", "--url", f"http://{collector.grpc_endpoint}", "--token", "wrong",
             "--orders", "3", "--days", "1", "--timeout", "1", "--no-progress"],
        )  # fmt: skip
    assert refused.exit_code == 2 and "did not accept the spans" in refused.stderr


def test_demo_never_empties_a_data_dir_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "prod"
    precious.mkdir()
    (precious / "orders.db").write_text("real data")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(precious), "--no-progress"])
    assert result.exit_code == 2
    assert "holds data that tower demo did not create" in result.stderr
    assert (precious / "orders.db").read_text() == "real data"
    assert sorted(p.name for p in precious.iterdir()) == ["orders.db"]


def test_live_status_line_reports_progress() -> None:
    simulator = Simulator(SimulatorConfig(orders=10, days=1, live_orders_per_hour=0))
    list(simulator.backfill())
    out = io.StringIO()
    status = LiveStatus(Console(file=out, width=200), simulator, every_s=0)
    status(1234)
    assert re.search(
        r"live \d+s: \d+ orders in total, 1,234 live spans sent, [\d,]+ spans still to come", out.getvalue()
    )
    quiet = LiveStatus(Console(file=out, width=200), simulator, every_s=3600)
    quiet(1)
    assert len(out.getvalue().splitlines()) == 1, "at most one line per interval"
