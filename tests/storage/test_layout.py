"""The layout setting, and the schema check every process but ``tower migrate`` makes on a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from support.cli import tower

from storage import StorageSettings, Store
from storage.migrate import SchemaNotReady, available, check_schema, pending


def test_the_layout_follows_the_cluster_setting_unless_given() -> None:
    assert StorageSettings().layout == "single"
    assert StorageSettings(cluster="prod").layout == "replicated"
    assert StorageSettings(cluster="prod", layout="sharded").layout == "sharded"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cluster": "prod", "layout": "single"}, "layout single runs no ON CLUSTER DDL, but cluster is set"),
        ({"layout": "replicated"}, "layout replicated needs cluster"),
        ({"layout": "sharded"}, "layout sharded needs cluster"),
        ({"cluster": "prod", "layout": "two-shards"}, "Input should be 'single', 'replicated' or 'sharded'"),
        ({"cluster": "prod; DROP TABLE x", "layout": "replicated"}, "cluster must be letters"),
    ],
)
def test_a_layout_that_cannot_work_is_refused_naming_the_fix(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StorageSettings(**fields)  # type: ignore[arg-type]


def test_a_process_checks_the_schema_version_without_running_ddl(empty_store: Store) -> None:
    assert pending(empty_store) == available()
    with pytest.raises(SchemaNotReady, match=r"lacks \d+ migration\(s\).*run `tower migrate` once"):
        check_schema(empty_store)
    # the check created nothing
    databases = empty_store.admin_client().query(
        "SELECT count() FROM system.databases WHERE name = {d:String}", parameters={"d": empty_store.database}
    )
    assert databases.result_rows == [(0,)]


def test_a_migrated_store_passes_the_check(store: Store) -> None:
    assert pending(store) == []
    check_schema(store)


@pytest.mark.slow
def test_tower_migrate_check_waits_for_nothing_and_exits_3_until_migrated(tmp_path: Path) -> None:
    before = tower("migrate", "--check", data_dir=tmp_path)
    assert before.returncode == 3, before.stderr
    assert "run `tower migrate` once" in before.stderr
    assert tower("migrate", data_dir=tmp_path).returncode == 0
    after = tower("migrate", "--check", "--wait", "5", data_dir=tmp_path)
    assert after.returncode == 0, after.stderr
    assert "is up to date" in after.stdout
