"""A store whose order facts were written before StageEnd, HandoffFrom and HandoffTo became ALIAS
columns (storage/migrations/0099) keeps every order's stage ends and handoffs once migrated."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from clock import ANCHOR

from kpis import reports
from storage import Store
from storage import migrate as migrate_module
from storage.migrate import available, migrate
from tracing.conventions import KEY_ROLES

# within the store's retention whatever the date (tests/clock.py)
T0 = (ANCHOR - timedelta(days=2)).replace(hour=14, minute=0, tzinfo=None)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_facts_written_before_the_alias_columns_keep_their_stage_ends_and_handoffs(
    empty_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = available()
    monkeypatch.setattr(migrate_module, "available", lambda: [m for m in shipped if m.version < 99])
    migrate(empty_store, KEY_ROLES)
    columns = [
        "OrderId",
        "CaptureAt",
        "LastActivityAt",
        "StageStart",
        "StageEnd",
        "HandoffFrom",
        "HandoffTo",
        "HandoffWaitS",
        "CurrentStage",
        "CurrentSystem",
        "HopCount",
        "Version",
    ]
    empty_store.insert(
        "order_facts",
        [
            # three hops: shop -> erp (a 5-minute wait) -> erp
            [
                "SO-3",
                _at(0),
                _at(40),
                {"capture": _at(0), "credit": _at(10), "ship": _at(30)},
                {"capture": _at(5), "credit": _at(25), "ship": _at(40)},
                ["shop-web", "erp-east"],
                ["erp-east", "wms-dallas"],
                [300.0, 300.0],
                "ship",
                "wms-dallas",
                3,
                1,
            ],
            # one hop: no handoff, its system only in CurrentSystem
            [
                "SO-1",
                _at(0),
                _at(2),
                {"capture": _at(0)},
                {"capture": _at(2)},
                [],
                [],
                [],
                "capture",
                "shop-web",
                1,
                1,
            ],
            # no hop at all
            ["SO-0", _at(0), _at(0), {}, {}, [], [], [], "", "", 0, 1],
        ],
        columns,
    )
    before = {o: reports.order_facts(empty_store, o) for o in ("SO-3", "SO-1", "SO-0")}
    assert before["SO-3"] is not None and before["SO-3"]["StageDurationS"]["credit"] == 900.0

    monkeypatch.setattr(migrate_module, "available", lambda: shipped)
    assert [m.version for m in migrate(empty_store, KEY_ROLES)] == [
        m.version for m in shipped if m.version >= 99
    ]
    for order, facts in before.items():
        after = reports.order_facts(empty_store, order)
        assert after is not None
        for column in (
            "StageStart",
            "StageEnd",
            "StageDurationS",
            "HandoffFrom",
            "HandoffTo",
            "HandoffWaitS",
        ):
            assert after[column] == facts[column], (order, column)  # type: ignore[index]
    stored = empty_store.rows("SELECT OrderId, HopSystems FROM order_facts ORDER BY OrderId")
    assert stored == [
        {"OrderId": "SO-0", "HopSystems": []},
        {"OrderId": "SO-1", "HopSystems": ["shop-web"]},
        {"OrderId": "SO-3", "HopSystems": ["shop-web", "erp-east", "wms-dallas"]},
    ]
