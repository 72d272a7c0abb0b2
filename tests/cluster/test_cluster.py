"""The tower on ClickHouse clusters, in the in-process harness (``tests/support/cluster.py``).

``tower_one_shard`` is the replicated single-shard layout (Distributed tables over ``*_local`` tables);
``tower_two_shards`` the sharded layout, whose queries issue 20 item 1 describes. Replication itself
(Replicated engines, ``ON CLUSTER``) needs Keeper: ``deploy/compose/cluster-tests.sh`` runs that part.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cluster import ONE_SHARD, TWO_SHARDS, Cluster, ClusterError

from tracing.conventions import KEY_ATTRIBUTES

WORKLOADS = "support.cluster_workload:"
WORKLOAD = WORKLOADS + "kpi_and_alert_queries"
CODE_288 = "DISTRIBUTED_IN_JOIN_SUBQUERY_DENIED"


def _two_tables(cluster: Cluster, db: str, name: str) -> None:
    cluster.command("default", f"CREATE DATABASE `{db}`")
    for table in ("orders", "hops"):
        cluster.command(
            db, f"CREATE TABLE {table}_local (OrderId String) ENGINE = MergeTree ORDER BY OrderId"
        )
        cluster.command(
            db,
            f"CREATE TABLE {table} AS {table}_local ENGINE = Distributed({name}, `{db}`, {table}_local, cityHash64(OrderId))",
        )
    cluster.command(db, "INSERT INTO orders SELECT concat('SO-', toString(number)) FROM numbers(10)")
    cluster.command(db, "INSERT INTO hops SELECT concat('SO-', toString(number)) FROM numbers(0, 10, 2)")


def test_two_shards_deny_a_subquery_on_a_distributed_table_and_run_global_in(
    cluster: Cluster, cluster_db: str
) -> None:
    _two_tables(cluster, cluster_db, TWO_SHARDS)
    plain = "SELECT count() FROM orders WHERE OrderId IN (SELECT OrderId FROM hops)"
    with pytest.raises(ClusterError, match=CODE_288):
        cluster.query(cluster_db, plain)
    # both shards are this node, so each reads the same local rows: 5 matches, once per shard
    assert cluster.query(cluster_db, plain.replace(" IN ", " GLOBAL IN ")) == [[10]]
    assert cluster.query(cluster_db, plain, settings={"distributed_product_mode": "global"}) == [[10]]
    assert cluster.query(cluster_db, plain, settings={"distributed_product_mode": "local"}) == [[10]]
    assert cluster.query(cluster_db, plain.replace("FROM hops", "FROM hops_local")) == [[10]]


def test_one_shard_runs_the_same_subquery(cluster: Cluster, cluster_db: str) -> None:
    _two_tables(cluster, cluster_db, ONE_SHARD)
    assert cluster.query(
        cluster_db, "SELECT count() FROM orders WHERE OrderId IN (SELECT OrderId FROM hops)"
    ) == [[5]]


def test_the_replicated_layout_answers_as_one_server_does(cluster: Cluster, cluster_db: str) -> None:
    single, replicated = f"{cluster_db}_single", cluster_db
    try:
        cluster.migrate(single, None, "single")
        alone = cluster.call(single, None, "single", WORKLOAD)
    finally:
        cluster.drop(single)
    cluster.migrate(replicated, ONE_SHARD, "replicated")
    tables = dict(
        cluster.query("default", f"SELECT name, engine FROM system.tables WHERE database = '{replicated}'")
    )
    assert tables["order_facts"] == "Distributed" and tables["order_facts_local"] == "ReplacingMergeTree"
    on_cluster = cluster.call(replicated, ONE_SHARD, "replicated", WORKLOAD)
    failed = {step: answer for step, answer in on_cluster.items() if str(answer).startswith("error")}
    assert failed == {}
    assert on_cluster["job order_facts"] == 12
    assert on_cluster["stalled orders"] and on_cluster["stalled orders"][0][1] == [
        "SO-0000",
        "SO-0003",
        "SO-0006",
        "SO-0009",
    ]
    assert on_cluster == alone


def test_the_sharded_layout_runs_every_kpi_and_alert_query(cluster: Cluster, cluster_db: str) -> None:
    # issue 20 item 1: these queries filter a sharded table by a subquery on another and failed with
    # Code 288 on two shards; the sharded layout's sessions run such subqueries GLOBAL
    cluster.migrate(cluster_db, TWO_SHARDS, "sharded", refuse_sharded=False)
    answers = cluster.call(cluster_db, TWO_SHARDS, "sharded", WORKLOAD)
    failed = {step: answer for step, answer in answers.items() if str(answer).startswith("error")}
    assert failed == {}
    # both shards are this one node, so a Distributed read sees every row once per shard: the same
    # orders and breaches as one server, each more than once
    assert answers["stalled orders"] and answers["stalled orders"][0][1] == [
        "SO-0000",
        "SO-0003",
        "SO-0006",
        "SO-0009",
    ]
    breaches = {tuple(b) for b in answers["sla breaches"]}
    assert ("SO-0000", "capture_to_ship", "breached") in breaches
    assert {b[0] for b in breaches if b[1] == "pricing"} == {"SO-0000", "SO-0003", "SO-0006", "SO-0009"}


def test_two_shards_refuse_the_subquery_without_the_sharded_layout(cluster: Cluster, cluster_db: str) -> None:
    # the replicated layout's sessions keep the engine's default: on two shards the same workload
    # stops at the first such subquery with Code 288 (what issue 20 item 1 found)
    cluster.migrate(cluster_db, TWO_SHARDS, "sharded", refuse_sharded=False)
    with pytest.raises(ClusterError, match=CODE_288):
        cluster.call(cluster_db, TWO_SHARDS, "replicated", WORKLOAD)


def test_the_order_keyed_backfill_finds_the_stored_days_on_a_cluster(
    cluster: Cluster, cluster_db: str
) -> None:
    # otel_traces is the Distributed table there: the days are read from otel_traces_local's parts
    cluster.migrate(cluster_db, ONE_SHARD, "replicated")
    seen = cluster.call(cluster_db, ONE_SHARD, "replicated", "support.cluster_workload:backfill_days")
    assert seen["pending"] == seen["span days"] and len(seen["span days"]) >= 2
    assert seen["filled"] == [f"day {day}" for day in seen["span days"]]
    assert seen["left"] == []


def test_migrate_refuses_the_sharded_layout_with_what_to_do(cluster: Cluster, cluster_db: str) -> None:
    for layout in ("replicated", "sharded"):
        with pytest.raises(ClusterError, match=r"tower_two_shards' has 2 shard.*refused.*layout replicated"):
            cluster.migrate(cluster_db, TWO_SHARDS, layout)
    with pytest.raises(ClusterError, match="sharded layout is refused"):
        cluster.migrate(cluster_db, ONE_SHARD, "sharded")
    assert cluster.query("default", f"SELECT count() FROM system.databases WHERE name = '{cluster_db}'") == [
        [0]
    ]


def test_migrate_names_a_cluster_the_server_does_not_define(cluster: Cluster, cluster_db: str) -> None:
    with pytest.raises(ClusterError, match="cluster 'nowhere' is not defined on the ClickHouse server"):
        cluster.migrate(cluster_db, "nowhere", "replicated")


def test_a_removed_key_attribute_is_deleted_from_the_local_tables(cluster: Cluster, cluster_db: str) -> None:
    cluster.migrate(cluster_db, ONE_SHARD, "replicated")
    names = "SELECT Name FROM tower_key_attributes FINAL ORDER BY Name"
    assert [r[0] for r in cluster.query(cluster_db, names)] == sorted(KEY_ATTRIBUTES)
    # the engine refuses a lightweight DELETE on the Distributed table (what migrate used to run)
    with pytest.raises(ClusterError, match="DELETE query is not supported"):
        cluster.command(cluster_db, "DELETE FROM tower_key_attributes WHERE Name = 'x'")
    kept = dict(list(KEY_ATTRIBUTES.items())[1:])
    assert cluster.migrate(cluster_db, ONE_SHARD, "replicated", key_attributes=kept) == []
    assert [r[0] for r in cluster.query(cluster_db, names)] == sorted(kept)


def test_the_collector_inserts_acknowledged_rows_into_the_shard_on_a_cluster(
    cluster: Cluster, cluster_db: str, tmp_path: Path
) -> None:
    # issue 20 item 6: the collector deleted a spool segment once the receiving node had queued its
    # rows; now its insert waits for the shard (and a majority of its replicas, which needs Keeper:
    # deploy/compose/cluster-tests.sh). Here: the engine accepts those settings on the Distributed
    # table, the rows are in the shard's table when the insert returns, a replayed segment counts once
    cluster.migrate(cluster_db, ONE_SHARD, "replicated")
    seen = cluster.call(cluster_db, ONE_SHARD, "replicated", WORKLOADS + "collector_inserts", str(tmp_path))
    assert (
        seen["settings"]["distributed_foreground_insert"] == 1 and seen["settings"]["insert_quorum"] == "auto"
    )
    assert seen["spans"] == seen["distinct spans"] == 45
