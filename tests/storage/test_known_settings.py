from typing import Any

import pytest

from storage import Store


def test_the_store_knows_the_engine_s_settings_and_asks_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feature newer than the server is used only where the server has its setting (the KPI
    jobs' materialized CTEs: ClickHouse 26.3 and later, which the embedded engine is)."""
    asked: list[str] = []
    query = store.query

    def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(sql)
        return query(sql, *args, **kwargs)

    monkeypatch.setattr(store, "query", counting)
    assert store.knows_setting("enable_materialized_cte")
    assert store.knows_setting("max_threads")
    assert not store.knows_setting("enable_teleportation")
    assert not store.knows_setting("enable_teleportation")
    assert store.knows_setting("enable_materialized_cte")
    assert len(asked) == 3
