"""Pages reuse results read from the KPI tables (web.kpicache) and never show them once the tables
changed: new orders after a KPI job run, a resolved exception, a new user in the owner choices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import login, make_app, web_settings_for
from fastapi.testclient import TestClient
from orderspans import quick_order

from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store
from web import kpicache
from web.accounts import Accounts
from web.settings import Role


@pytest.fixture
def viewer_on(store: Store, password_hash: str) -> Iterator[TestClient]:
    """A viewer on an app of its own over a fresh database (the test changes the KPI tables)."""
    with TestClient(make_app(store, password_hash)) as client:
        yield login(client, "vera")


def _orders(client: TestClient) -> float:
    report = client.get("/api/kpis", params={"days": 7}).json()["report"]
    return next(v["value"] for v in report["values"] if v["name"] == "orders")


def test_kpi_figures_follow_each_job_run(store: Store, viewer_on: TestClient) -> None:
    engine = KpiEngine(store, load_policy())
    quick_order(store, "SO-7101")
    engine.run_all()
    assert _orders(viewer_on) == 1
    assert _orders(viewer_on) == 1  # the same answer when nothing changed
    quick_order(store, "SO-7102", channel="edi")
    assert _orders(viewer_on) == 1  # spans alone do not change the KPIs until the jobs ran
    engine.run_all()
    assert _orders(viewer_on) == 2
    page = viewer_on.get("/kpis", params={"days": 7})
    assert page.status_code == 200
    assert 'value="edi"' in page.text or ">edi<" in page.text  # the new channel is a filter choice


def test_fingerprint_changes_with_every_write_and_not_without(store: Store) -> None:
    engine = KpiEngine(store, load_policy())
    before = kpicache.tables_version(store)
    assert kpicache.tables_version(store) == before
    quick_order(store, "SO-7201")
    engine.run_all()
    after_run = kpicache.tables_version(store)
    assert after_run != before
    quick_order(store, "SO-7202", open_exception="stockout")
    engine.run_all()
    assert kpicache.tables_version(store) != after_run


def test_a_new_user_is_offered_as_exception_owner(store: Store, password_hash: str) -> None:
    with TestClient(make_app(store, password_hash)) as client:
        login(client, "ada")
        first = client.get("/exceptions")
        assert first.status_code == 200
        assert "quinn" not in first.text
        Accounts(store, web_settings_for(password_hash)).add_user(
            "quinn", "another long passphrase", Role.OPS
        )
        assert "quinn" in client.get("/exceptions").text


def test_entries_are_bounded_and_per_store(store: Store) -> None:
    cache = kpicache.KpiCache(max_entries=2)
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name

    for name in ("a", "b", "a", "c", "a", "b"):
        cache.get(store, name, lambda name=name: compute(name))  # type: ignore[misc]
    # a, b computed; a reused; c evicts b; a reused; b computed again
    assert calls == ["a", "b", "c", "b"]
