"""Replication on a real ClickHouse cluster: run by ``deploy/compose/cluster-tests.sh``.

The embedded engine can create Replicated tables against a ZooKeeper, but inserts into them hang, so
these tests need the compose cluster (two replicas of shard 1, Keeper). They are skipped elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from clock import ANCHOR
from support.spans import SpanRow, insert

from storage import StorageSettings, Store
from storage.migrate import pending, sync_key_attributes
from tracing.conventions import KEY_ATTRIBUTES

REPLICA_URL = os.environ.get("TOWER_TEST_CLICKHOUSE_REPLICA_URL")
CLUSTER = os.environ.get("TOWER_TEST_CLICKHOUSE_CLUSTER")

pytestmark = pytest.mark.skipif(
    not (REPLICA_URL and CLUSTER), reason="needs the compose cluster: deploy/compose/cluster-tests.sh"
)


@pytest.fixture
def replica(store: Store) -> Iterator[Store]:
    """The same database through the shard's other replica."""
    assert REPLICA_URL
    other = Store(StorageSettings(dsn=REPLICA_URL, cluster=CLUSTER), store.database)
    yield other
    other.close()


def test_a_process_on_the_other_replica_finds_the_migrations_applied(replica: Store) -> None:
    assert pending(replica) == []


def test_spans_written_through_one_replica_are_read_on_the_other(store: Store, replica: Store) -> None:
    spans = [
        SpanRow(
            trace=f"t{n}",
            name="capture",
            start=ANCHOR - timedelta(hours=n),
            duration=timedelta(seconds=5),
            service="shop-web",
            attributes={"order.id": f"SO-{n}", "order.stage": "capture"},
        )
        for n in range(20)
    ]
    insert(store, spans)
    replica.command("SYSTEM SYNC REPLICA otel_traces_local")
    assert replica.scalar("SELECT count() FROM otel_traces") == 20


def test_a_removed_key_attribute_is_gone_on_every_replica(store: Store, replica: Store) -> None:
    kept = dict(list(KEY_ATTRIBUTES.items())[1:])
    sync_key_attributes(store, kept)
    replica.command("SYSTEM SYNC REPLICA tower_key_attributes_local")
    names = {r[0] for r in replica.query("SELECT Name FROM tower_key_attributes FINAL").result_rows}
    assert names == set(kept)
