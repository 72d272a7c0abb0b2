"""``tower trace <any key>``: the real command in a subprocess, on its own embedded store, and through
a running tower's JSON API when another process holds the store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
import uvicorn
from fastapi import FastAPI, Header, HTTPException
from support import cli
from support.ports import listening_socket
from support.spans import insert

from storage import Store, lock
from tracing.timeline import OrderMatch, OrderNotFound, Timeline, find_orders, order_timeline

TRACING_TESTS = Path(__file__).parents[1] / "tracing"
sys.path.insert(0, str(TRACING_TESTS))
from scenarios import edi_split_order  # noqa: E402

TOKEN = "test-token-for-trace"


def tower(data_dir: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"TOWER_API_TOKEN": token} if token else {}
    return cli.tower("trace", *args, data_dir=data_dir, env=env, cwd=data_dir, timeout=120)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded store of its own with the known-answer scenario (loaded by another process)."""
    path = tmp_path_factory.mktemp("trace-cli")
    subprocess.run(
        [sys.executable, str(TRACING_TESTS / "scenarios.py"), str(path)],
        env=cli.environment(),  # tests/ on the path, and this process's clock
        check=True,
        timeout=120,
    )
    return path


def test_trace_by_tracking_number_prints_the_journey(data_dir: Path) -> None:
    done = tower(data_dir, "1Z002")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Order SO-1001  COMPLETE  at invoice in finance-cloud" in out
    # holding counts waiting: the WMS had the order from pick until the carrier took the second shipment
    assert "held longest by wms-central (28h 00m, 27h 10m of it waiting)" in out
    for system in ("edi-gateway", "middleware", "erp-east", "wms-central", "carrier-ups", "finance-cloud"):
        assert system in out
    assert "21h 50m" in out  # the wait for the backordered second shipment
    assert "exception credit_hold resolved after 58m 00s" in out
    assert "manual touch" in out and "jdoe" in out


def test_trace_json_lists_every_order_on_a_consolidated_invoice(data_dir: Path) -> None:
    done = tower(data_dir, "INV-9", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["source"] == "store"
    assert [m["order_id"] for m in data["matches"]] == ["SO-1001", "SO-1003"]
    timelines = [Timeline.model_validate(t) for t in data["timelines"]]
    assert [t.order_id for t in timelines] == ["SO-1001", "SO-1003"]
    assert len(timelines[0].hops) == 10
    assert [g.duration_ns // 60_000_000_000 for g in timelines[0].gaps][:2] == [8, 19]


def test_no_match_exits_1_with_a_clear_message(data_dir: Path) -> None:
    done = tower(data_dir, "NOPE-42")
    assert done.returncode == 1
    assert "no order matches 'NOPE-42'" in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_bad_key_is_refused_clearly(data_dir: Path) -> None:
    done = tower(data_dir, "   ")
    assert done.returncode == 2
    assert "the key is empty" in done.stderr
    assert "Traceback" not in done.stderr


# -- through the API of the tower that holds the store -------------------------------------------


def _api(store: Store) -> FastAPI:
    """The two endpoints tower trace calls, served from the models of tracing.timeline."""
    app = FastAPI()

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(status_code=401, detail="unknown or revoked API token")

    @app.get("/api/search", response_model=list[OrderMatch])
    def search(q: str, authorization: Annotated[str | None, Header()] = None) -> list[OrderMatch]:
        check(authorization)
        return find_orders(store, q)

    @app.get("/api/orders/{order_id}/timeline", response_model=Timeline)
    def timeline(order_id: str, authorization: Annotated[str | None, Header()] = None) -> Timeline:
        check(authorization)
        try:
            return order_timeline(store, order_id)
        except OrderNotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    return app


@pytest.fixture(scope="module")
def held_dir(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A data dir locked by this process, announcing the URL of a real HTTP API on 127.0.0.1."""
    insert(module_store, edi_split_order())
    with listening_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(_api(module_store), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        path = tmp_path_factory.mktemp("held")
        target = path / "clickhouse"
        lock.acquire(target, "tower serve (test)")
        lock.announce(target, api_url=url)
        yield path, url
        lock.release(target)
        server.should_exit = True
        thread.join(timeout=10)


def test_trace_asks_the_serving_tower_when_the_store_is_held(held_dir: tuple[Path, str]) -> None:
    path, url = held_dir
    done = tower(path, "SH-2", "--json", token=TOKEN)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["source"] == url
    [timeline] = [Timeline.model_validate(t) for t in data["timelines"]]
    assert timeline.order_id == "SO-1001" and len(timeline.hops) == 10
    # and the human view works the same way
    done = tower(path, "PO-4711", token=TOKEN)
    assert done.returncode == 0 and "Order SO-1001  COMPLETE" in done.stdout


def test_trace_through_the_api_no_match_and_refused_token(held_dir: tuple[Path, str]) -> None:
    path, url = held_dir
    done = tower(path, "NOPE-42", token=TOKEN)
    assert done.returncode == 1 and "no order matches 'NOPE-42'" in done.stderr
    done = tower(path, "SH-2", token="wrong")
    assert done.returncode == 2
    assert f"the tower API at {url} answered 401" in done.stderr
    assert "--token" in done.stderr


def test_trace_with_the_store_held_and_no_api_says_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "clickhouse"
    lock.acquire(target, "tower serve --roles collector")
    try:
        done = tower(tmp_path, "SO-1001")
    finally:
        lock.release(target)
    assert done.returncode == 2
    assert "in use by another tower process" in done.stderr
    assert "Traceback" not in done.stderr
