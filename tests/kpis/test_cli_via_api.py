"""``tower kpis run`` while a tower serve holds the embedded store: the jobs run in the serving
process, through its JSON API (``POST /api/jobs/run``), as ``tower trace`` and ``tower alerts`` do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from clock import ANCHOR
from kpi_spans import order_flow, write
from support.served import serving
from typer.testing import CliRunner

from kpis.jobs import JOB_NAMES
from storage import Store
from tower.cli import app
from web.accounts import Accounts
from web.settings import Role

Served = tuple[dict[str, str], Accounts, str]


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Iterator[Served]:
    """The real dashboard app serving ``store``, its data directory held (tests/support/served.py)."""
    with serving(store, tmp_path / "data") as served:
        yield served.env, Accounts(store, served.settings.web), served.url


def test_kpis_run_goes_through_the_serving_towers_api(store: Store, served: Served) -> None:
    env, accounts, _ = served
    write(store, order_flow("SO-API", ANCHOR - timedelta(days=1)))
    refused = CliRunner().invoke(app, ["kpis", "run"], env=env)
    assert refused.exit_code == 2 and "answered 401" in refused.stderr and "--token" in refused.stderr
    viewer = accounts.create_token("viewer", Role.VIEWER, "test").token
    refused = CliRunner().invoke(app, ["kpis", "run", "--token", viewer], env=env)
    assert refused.exit_code == 2 and "answered 403" in refused.stderr

    token = accounts.create_token("cli", Role.OPS, "test").token
    done = CliRunner().invoke(app, ["kpis", "run", "--json", "--token", token], env=env)
    assert done.exit_code == 0, done.stderr
    results = {r["job"]: r for r in json.loads(done.stdout)}
    assert set(results) == set(JOB_NAMES) and {r["status"] for r in results.values()} == {"ok"}
    assert results["order_facts"]["rows"] == 1
    # the serving process ran them: its store holds the order's facts and the recorded runs
    assert store.scalar("SELECT count() FROM order_facts FINAL WHERE OrderId = 'SO-API'") == 1
    again = CliRunner().invoke(app, ["kpis", "run", "--json", "--token", token], env=env)
    # (idle or not depends on whether the spans arrived within the arrival overlap: test_incremental)
    assert {r["status"] for r in json.loads(again.stdout)} == {"ok"}
    full = CliRunner().invoke(
        app, ["kpis", "run", "--full", "--job", "order_facts", "--token", token], env=env
    )
    assert full.exit_code == 0 and full.stdout.startswith("order_facts        full")
    bad = CliRunner().invoke(
        app, ["kpis", "run", "--token", token, "--from", "2026-03-02", "--to", "2026-03-01"], env=env
    )
    assert bad.exit_code == 2 and "--from must be before --to" in bad.stderr


def test_the_run_api_refuses_bad_requests_clearly(store: Store, served: Served) -> None:
    _, accounts, url = served
    token = accounts.create_token("cli", Role.OPS, "test").token
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, trust_env=False) as c:
        for body, message in [
            ({"jobs": ["facts"]}, "unknown job(s) facts"),
            ({"full": True, "from": "2026-03-01T00:00:00Z"}, "leave out from/to"),
            ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from must be before to"),
            ({"jobs": "order_facts; DROP TABLE order_facts"}, ""),
            ({"jobs": ["x" * 101]}, ""),
            ({"jobs": ["order_facts"] * 21}, ""),
            ({"full": True, "extra": 1}, ""),
            ({"from": "last tuesday"}, ""),
        ]:
            response = c.post("/api/jobs/run", json=body)
            assert response.status_code == 422, (body, response.text)
            assert message in response.text
        response = c.post(
            "/api/jobs/run", content=b"\xef\xbb\xbf{", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422
    assert store.scalar("SELECT count() FROM job_runs") == 0  # nothing ran
