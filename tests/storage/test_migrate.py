from __future__ import annotations

import pytest
from clock import ANCHOR

from storage import StorageSettings, Store
from storage import migrate as migrate_module
from storage.migrate import Migration, MigrationError, apply_ttl, available, migrate
from tracing.conventions import KEY_ATTRIBUTES, KEY_ROLES

TOWER_TABLES = {
    "otel_traces",
    "otel_traces_trace_id_ts",
    "otel_traces_trace_id_ts_mv",
    "order_keys",
    "order_keys_mv",
    "tower_key_attributes",
    "tower_migrations",
}


def _tables(store: Store) -> set[str]:
    return {r[0] for r in store.query("SHOW TABLES").result_rows}


def test_fresh_migrate_creates_every_table_and_second_run_changes_nothing(empty_store: Store) -> None:
    applied = migrate(empty_store, KEY_ROLES)
    assert [m.version for m in applied] == [m.version for m in available()]
    assert _tables(empty_store) >= TOWER_TABLES
    before = empty_store.rows("SELECT Version, Checksum, AppliedAt FROM tower_migrations ORDER BY Version")

    assert migrate(empty_store, KEY_ROLES) == []
    after = empty_store.rows("SELECT Version, Checksum, AppliedAt FROM tower_migrations ORDER BY Version")
    assert after == before
    assert empty_store.scalar("SELECT count() FROM tower_key_attributes FINAL") == len(KEY_ATTRIBUTES)


def test_migrations_are_numbered_without_gaps_in_order() -> None:
    versions = [m.version for m in available()]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)


def test_a_changed_applied_migration_is_refused(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    original = available()
    tampered = [
        Migration(m.version, m.name, m.text + "\n-- edited") if m.version == 1 else m for m in original
    ]
    monkeypatch.setattr(migrate_module, "available", lambda: tampered)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(store, KEY_ROLES)


def test_key_index_holds_every_key_of_a_span_including_lists_and_batches(store: Store) -> None:
    now = ANCHOR
    columns = ["Timestamp", "TraceId", "SpanId", "ServiceName", "SpanName", "SpanAttributes", "Duration"]
    store.insert(
        "otel_traces",
        [
            [
                now,
                "t1",
                "s1",
                "wms",
                "ship",
                {"order.id": "SO-1", "shipment.tracking_number": '["1Z1","1Z2"]'},
                5,
            ],
            [
                now,
                "t2",
                "s2",
                "edi",
                "edi.batch",
                {"order.batch.order_ids": '["SO-1","SO-2"]', "order.batch.id": "B7"},
                5,
            ],
            [now, "t3", "s3", "carrier", "scan", {"shipment.tracking_number": "1Z3", "note": "not a key"}, 5],
        ],
        columns,
    )
    rows = store.rows(
        "SELECT Key, KeyType, OrderId, TraceId, Via FROM order_keys ORDER BY Key, KeyType, OrderId"
    )
    # the batch id leads to each order of the batch (Via 'batch': the batch span is shared by them)
    assert [(r["Key"], r["KeyType"], r["OrderId"], r["TraceId"], r["Via"]) for r in rows] == [
        ("1Z1", "shipment.tracking_number", "SO-1", "t1", ""),
        ("1Z2", "shipment.tracking_number", "SO-1", "t1", ""),
        ("1Z3", "shipment.tracking_number", "", "t3", ""),
        ("B7", "order.batch.id", "", "t2", ""),
        ("B7", "order.batch.id", "SO-1", "t2", "batch"),
        ("B7", "order.batch.id", "SO-2", "t2", "batch"),
        ("SO-1", "order.batch.order_ids", "SO-1", "t2", ""),
        ("SO-1", "order.id", "SO-1", "t1", ""),
        ("SO-2", "order.batch.order_ids", "SO-2", "t2", ""),
    ]


def test_new_key_attributes_take_effect_without_ddl(store: Store) -> None:
    migrate(store, {**KEY_ROLES, "rma.id": "weak"})
    store.insert(
        "otel_traces",
        [[ANCHOR, "t9", "s9", "erp", "return", {"order.id": "SO-9", "rma.id": "RMA-1"}, 1]],
        ["Timestamp", "TraceId", "SpanId", "ServiceName", "SpanName", "SpanAttributes", "Duration"],
    )
    assert store.scalar("SELECT OrderId FROM order_keys WHERE Key = 'RMA-1'") == "SO-9"


def test_retention_follows_the_settings(engine: Store, storage_settings: StorageSettings) -> None:
    settings = storage_settings.model_copy(update={"ttl_days": {"otel_traces": 7, "order_keys": 0}})
    store = Store(StorageSettings.model_validate(settings.model_dump()), "t_ttl_check")
    try:
        migrate(store, KEY_ROLES)
        full = store.scalar(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'otel_traces'"
        )
        assert "toIntervalDay(7)" in full
        keys = store.scalar(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'order_keys'"
        )
        assert " TTL " not in keys
        # changing the setting later alters the existing table
        longer = Store(
            StorageSettings.model_validate({**settings.model_dump(), "ttl_days": {"otel_traces": 90}}),
            "t_ttl_check",
        )
        assert "otel_traces" in apply_ttl(longer)
        full = store.scalar(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'otel_traces'"
        )
        assert "toIntervalDay(90)" in full
        longer.close()
    finally:
        store.drop_database()
        store.close()
