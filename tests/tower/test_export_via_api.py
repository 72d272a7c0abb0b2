"""The exports through a running tower's API: ``/api/process/export/...`` streams a large export as
it is written (a client has its first bytes while the rest is still being read from the store), and
``tower export`` asks the serving tower's API while a ``tower serve`` holds the embedded store, as
``tower trace`` does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock import ANCHOR
from support.served import serving
from typer.testing import CliRunner

from kpis.process import mining, ocel
from kpis.process.filters import make_filter
from kpis.process.paths import refresh_paths
from storage import Store
from tower.cli import app
from tracing import conventions as c
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store
from web.accounts import Accounts
from web.settings import Role

START, END = ANCHOR - timedelta(days=10), ANCHOR + timedelta(days=1)
RANGE = {"start": START.isoformat(), "end": END.isoformat()}
FLT = make_filter(start=START, end=END)


class Served:
    def __init__(self, env: dict[str, str], url: str, viewer: str) -> None:
        self.env, self.url, self.viewer = env, url, viewer


@pytest.fixture(scope="module")
def served(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Simulated orders; the real dashboard app serving them, its data directory held
    (tests/support/served.py)."""
    store = module_store
    write_to_store(store, Simulator(SimulatorConfig(seed=18, orders=200, days=6, end=ANCHOR)).backfill())
    assert refresh_paths(store).status == "ok"
    with serving(store, tmp_path_factory.mktemp("served") / "data") as served:
        viewer = Accounts(store, served.settings.web).create_token("viewer", Role.VIEWER, "test").token
        yield Served(served.env, served.url, viewer)


def test_a_large_export_arrives_while_it_is_still_being_read(
    module_store: Store, served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export is read from the store in ranges of orders. Once 300 KiB are written, the next
    range waits until the client has received bytes: an endpoint that built the whole export before
    sending would never let it go on."""
    import pm4py

    monkeypatch.setattr(ocel, "CHUNK_ORDERS", 5)
    first_bytes = threading.Event()
    produced = [0]
    waited: list[bool] = []
    real_stream = ocel._stream

    def stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        if produced[0] > 300 * 1024 and not waited:
            waited.append(first_bytes.wait(timeout=120))
        for chunk in real_stream(*args, **kwargs):
            produced[0] += len(chunk)
            yield chunk

    monkeypatch.setattr(ocel, "_stream", stream)
    path = tmp_path / "log.xml"
    headers = {"Authorization": f"Bearer {served.viewer}"}
    with (
        httpx.Client(base_url=served.url, headers=headers, timeout=300, trust_env=False) as client,
        client.stream("GET", "/api/process/export/ocel", params={**RANGE, "format": "xml"}) as response,
    ):
        assert response.status_code == 200
        with path.open("wb") as out:
            for chunk in response.iter_bytes():
                first_bytes.set()
                out.write(chunk)
    assert waited == [True]  # the client had bytes while ranges of orders were still to be read
    assert path.stat().st_size > 600 * 1024  # ... and most of the export was still to come
    log = pm4py.read_ocel2_xml(str(path))
    counts = ocel.counts(module_store, FLT)
    assert (len(log.events), len(log.objects), len(log.relations)) == (
        counts.events,
        counts.objects,
        counts.event_objects,
    )


def test_tower_export_goes_through_the_serving_towers_api(
    module_store: Store, served: Served, tmp_path: Path
) -> None:
    import pm4py

    store = module_store
    out = tmp_path / "orders.jsonocel"
    args = ["export", "ocel", "--from", RANGE["start"], "--to", RANGE["end"], "-o", str(out)]
    refused = CliRunner().invoke(app, args, env=served.env)
    assert refused.exit_code == 2 and "answered 401" in refused.stderr and "--token" in refused.stderr
    assert not out.exists()  # no partial file

    done = CliRunner().invoke(app, [*args, "--token", served.viewer], env=served.env)
    assert done.exit_code == 0, done.stderr
    counts = ocel.counts(store, FLT)
    log = pm4py.read_ocel2_json(str(out))
    assert (len(log.events), len(log.objects), len(log.relations), len(log.o2o)) == (
        counts.events,
        counts.objects,
        counts.event_objects,
        counts.object_objects,
    )

    db = tmp_path / "orders.sqlite"
    sqlite_args = ["export", "ocel", "--from", RANGE["start"], "--to", RANGE["end"], "-f", "sqlite"]
    done = CliRunner().invoke(app, [*sqlite_args, "-o", str(db), "--token", served.viewer], env=served.env)
    assert done.exit_code == 0, done.stderr
    assert len(pm4py.read_ocel2_sqlite(str(db)).events) == counts.events

    xes = tmp_path / "orders.xes"
    xes_args = ["export", "xes", "--from", RANGE["start"], "--to", RANGE["end"], "--channel", "edi"]
    done = CliRunner().invoke(app, [*xes_args, "-o", str(xes), "--token", served.viewer], env=served.env)
    assert done.exit_code == 0, done.stderr
    edi = mining.process_map(store, make_filter(start=START, end=END, channel="edi")).orders
    assert 0 < edi < mining.process_map(store, FLT).orders
    assert pm4py.read_xes(str(xes))["case:concept:name"].nunique() == edi


def test_a_bad_filter_is_one_clear_line_and_leaves_no_file(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "orders.xes"
    args = ["export", "xes", "--from", RANGE["start"], "--to", RANGE["end"], "--region", "x" * 300]
    done = CliRunner().invoke(app, [*args, "-o", str(out), "--token", served.viewer], env=served.env)
    assert done.exit_code == 2
    assert "region" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_an_export_through_the_api_includes_the_orders_whose_spans_just_arrived(
    module_store: Store, served: Served, tmp_path: Path
) -> None:
    """Spans written after the order paths were last computed (the scheduler runs every few
    minutes): the served export still has their orders, as the direct ``tower export`` has."""
    import pm4py

    late = list(
        Simulator(SimulatorConfig(seed=1818, orders=4, days=1, end=ANCHOR, id_offset=500_000)).backfill()
    )
    late_ids = {str(r.attributes[c.ORDER_ID]) for r in late if c.ORDER_ID in r.attributes}
    assert late_ids
    write_to_store(module_store, late)
    xes = tmp_path / "orders.xes"
    args = ["export", "xes", "--from", RANGE["start"], "--to", RANGE["end"], "-o", str(xes)]
    done = CliRunner().invoke(app, [*args, "--token", served.viewer], env=served.env)
    assert done.exit_code == 0, done.stderr
    cases = set(pm4py.read_xes(str(xes))["case:concept:name"])
    assert late_ids <= cases
    assert len(cases) == mining.process_map(module_store, FLT).orders
