"""Cluster DDL: rendered and checked as text (no cluster runs here)."""

from __future__ import annotations

import re

from storage.migrate import Layout, available, history_table, render

SINGLE = Layout("otel", None, {"otel_traces": 30})
CLUSTER = Layout("otel", "prod", {"otel_traces": 30})


def _all(layout: Layout) -> list[str]:
    return [s for m in available() for s in render(m.text, layout)]


def test_single_node_ddl_has_no_cluster_parts() -> None:
    ddl = "\n".join(_all(SINGLE))
    assert "ON CLUSTER" not in ddl
    assert "Replicated" not in ddl
    assert "Distributed" not in ddl
    assert "non_replicated_deduplication_window = 10000" in ddl


def test_every_cluster_statement_runs_on_the_cluster() -> None:
    statements = _all(CLUSTER)
    assert statements
    for statement in statements:
        assert "ON CLUSTER `prod`" in statement, statement


def test_cluster_tables_are_replicated_locals_behind_distributed_tables() -> None:
    statements = _all(CLUSTER)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    local = [s for s in creates if "_local`" in s.split("(")[0] and "Distributed" not in s]
    distributed = [s for s in creates if "ENGINE = Distributed" in s]
    assert local and distributed
    for statement in local:
        engine = re.search(r"ENGINE = (\w+)\(", statement)
        assert engine and engine.group(1).startswith("Replicated"), statement
        assert "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'" in statement
    local_names = {re.search(r"`otel`\.`(\w+)_local`", s).group(1) for s in local}  # type: ignore[union-attr]
    distributed_names = {re.search(r"`otel`\.`(\w+)` ON CLUSTER", s).group(1) for s in distributed}  # type: ignore[union-attr]
    assert local_names == distributed_names
    assert "Distributed(`prod`, `otel`, `otel_traces_local`, rand())" in "\n".join(distributed)
    # replicated tables deduplicate replayed segments with their own window, set explicitly
    assert "non_replicated_deduplication_window" not in "\n".join(creates)
    traces = next(s for s in local if "`otel_traces_local`" in s.split("(")[0])
    assert "replicated_deduplication_window = 10000" in traces


def test_cluster_views_read_and_write_local_tables() -> None:
    views = [s for s in _all(CLUSTER) if "MATERIALIZED VIEW" in s]
    assert len(views) >= 2
    for view in views:
        assert "TO `otel`.`" in view and "_local`" in view.split("TO", 1)[1].split("\n")[0]
        # each view reads a local table: otel_traces, or a table a view on it fills (order_spans)
        assert re.search(r"FROM `otel`\.`\w+_local`", view), view


def test_replacing_engines_keep_their_version_column_on_a_cluster() -> None:
    text = "\n".join(_all(CLUSTER))
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', Version)"
        in text
    )


def test_retention_is_rendered_only_for_tables_with_a_ttl() -> None:
    text = "\n".join(_all(Layout("otel", None, {"otel_traces": 3})))
    assert "TTL toDateTime(Timestamp) + toIntervalDay(3)" in text
    assert "toIntervalDay(0)" not in text


def test_the_migration_history_is_one_table_for_the_whole_cluster() -> None:
    # a Keeper path without {shard}: every node of every shard is a replica of the same history, so a
    # process that reaches another shard finds the migrations applied (and does not re-run 0032's DROP)
    ddl = history_table(CLUSTER)
    assert "ON CLUSTER `prod`" in ddl
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}', AppliedAt)"
        in ddl
    )
    assert "{shard}/" not in ddl
    single = history_table(SINGLE)
    assert "ON CLUSTER" not in single and "ENGINE = ReplacingMergeTree(AppliedAt)" in single


def test_the_harness_layout_renders_cluster_tables_without_keeper() -> None:
    harness = Layout("otel", "two", {}, "sharded", on_cluster=False, replicated=False)
    ddl = "\n".join(_all(harness))
    assert "ON CLUSTER" not in ddl and "Replicated" not in ddl
    assert "ENGINE = Distributed(`two`, `otel`, `order_facts_local`, cityHash64(OrderId))" in ddl
