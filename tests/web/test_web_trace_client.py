"""`tower trace --api` talks to this dashboard's JSON API over real HTTP with an API token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import make_app, web_settings_for
from orderspans import NOW, standard_order

from kpis.policy import load_policy
from storage import StorageSettings, Store
from tower.commands.trace import TraceError, lookup_in_store, lookup_via_api
from tower.settings import TowerSettings
from tower.web_service import WebService
from web.settings import Role


@pytest.fixture(scope="module")
def served(
    module_store: Store, storage_settings: StorageSettings, password_hash: str
) -> Iterator[tuple[str, str]]:
    standard_order(module_store, "SO-8001", **{"invoice.id": "INV-8"})
    standard_order(module_store, "SO-8002", **{"invoice.id": "INV-8"})
    app = make_app(module_store, password_hash)
    token = app.state.web.accounts.create_token("trace-cli", Role.VIEWER, "test").token
    web = web_settings_for(password_hash).model_copy(update={"port": 0})
    service = WebService(TowerSettings(storage=storage_settings, web=web), module_store, load_policy())
    service.app.state.web.clock = lambda: NOW
    service.start()
    try:
        yield service.url, token
    finally:
        service.stop()


def test_trace_via_api_equals_trace_from_store(served: tuple[str, str], module_store: Store) -> None:
    url, token = served
    remote = lookup_via_api(url, "INV-8", max_orders=5, token=token)
    local = lookup_in_store(module_store, "INV-8", max_orders=5)
    assert sorted(t.order_id for t in remote.timelines) == ["SO-8001", "SO-8002"]
    assert [m.model_dump() for m in remote.matches] == [m.model_dump() for m in local.matches]
    for a, b in zip(remote.timelines, local.timelines, strict=True):
        assert a.hops == b.hops and a.gaps == b.gaps and a.critical_path == b.critical_path


def test_trace_via_api_without_token_is_refused_clearly(served: tuple[str, str]) -> None:
    url, _ = served
    with pytest.raises(TraceError, match="pass an API token"):
        lookup_via_api(url, "INV-8", max_orders=5, token=None)
