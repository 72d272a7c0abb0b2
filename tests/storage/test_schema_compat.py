"""The span tables are column-for-column those of the OTel Collector contrib clickhouseexporter.

The expected lists below transcribe the exporter's DDL (internal/sqltemplates/traces_table.sql and
traces_id_ts_lookup_table.sql, bloom-filter variant): a user's existing Collector-to-ClickHouse
data must work with the tower unchanged, and Grafana's ClickHouse plugin must read ours.
"""

from __future__ import annotations

from storage import Store

MAP = "Map(LowCardinality(String), String)"
ZSTD = "CODEC(ZSTD(1))"

EXPORTER_TRACE_COLUMNS: list[tuple[str, str, str, str]] = [
    # name, type, codec, default kind
    ("Timestamp", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))", ""),
    ("TraceId", "String", ZSTD, ""),
    ("SpanId", "String", ZSTD, ""),
    ("ParentSpanId", "String", ZSTD, ""),
    ("TraceState", "String", ZSTD, ""),
    ("SpanName", "LowCardinality(String)", ZSTD, ""),
    ("SpanKind", "LowCardinality(String)", ZSTD, ""),
    ("ServiceName", "LowCardinality(String)", ZSTD, ""),
    ("ResourceAttributes", MAP, ZSTD, ""),
    ("ScopeName", "String", ZSTD, ""),
    ("ScopeVersion", "String", ZSTD, ""),
    ("SpanAttributes", MAP, ZSTD, ""),
    ("Duration", "UInt64", "CODEC(T64, ZSTD(1))", ""),
    ("StatusCode", "LowCardinality(String)", ZSTD, ""),
    ("StatusMessage", "String", ZSTD, ""),
    ("Events.Timestamp", "Array(DateTime64(9))", ZSTD, ""),
    ("Events.Name", "Array(LowCardinality(String))", ZSTD, ""),
    ("Events.Attributes", f"Array({MAP})", ZSTD, ""),
    ("Links.TraceId", "Array(String)", ZSTD, ""),
    ("Links.SpanId", "Array(String)", ZSTD, ""),
    ("Links.TraceState", "Array(String)", ZSTD, ""),
    ("Links.Attributes", f"Array({MAP})", ZSTD, ""),
    ("ResourceAttributeItems", "Array(String)", "", "ALIAS"),
    ("SpanAttributeItems", "Array(String)", "", "ALIAS"),
]

EXPORTER_TRACE_INDEXES: list[tuple[str, str, str, int]] = [
    ("idx_trace_id", "TraceId", "bloom_filter(0.001)", 1),
    ("idx_res_attr_key", "mapKeys(ResourceAttributes)", "bloom_filter(0.01)", 1),
    ("idx_res_attr_value", "mapValues(ResourceAttributes)", "bloom_filter(0.01)", 1),
    ("idx_span_attr_key", "mapKeys(SpanAttributes)", "bloom_filter(0.01)", 1),
    ("idx_span_attr_value", "mapValues(SpanAttributes)", "bloom_filter(0.01)", 1),
    ("idx_duration", "Duration", "minmax", 1),
    ("idx_lower_span_name", "lower(SpanName)", "tokenbf_v1(32768, 3, 0)", 8),
]

EXPORTER_TRACE_ID_TS_COLUMNS: list[tuple[str, str, str, str]] = [
    ("TraceId", "String", ZSTD, ""),
    ("Start", "SimpleAggregateFunction(min, DateTime)", ZSTD, ""),
    ("End", "SimpleAggregateFunction(max, DateTime)", ZSTD, ""),
]


def _columns(store: Store, table: str) -> list[tuple[str, str, str, str]]:
    rows = store.query(
        "SELECT name, type, compression_codec, default_kind FROM system.columns "
        "WHERE database = {db:String} AND table = {t:String} ORDER BY position",
        {"db": store.database, "t": table},
    ).result_rows
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _table(store: Store, table: str) -> dict[str, object]:
    rows = store.rows(
        "SELECT engine, partition_key, sorting_key, primary_key, engine_full FROM system.tables "
        "WHERE database = {db:String} AND name = {t:String}",
        {"db": store.database, "t": table},
    )
    assert rows, f"table {table} missing"
    return rows[0]


def test_otel_traces_columns_match_the_exporter(store: Store) -> None:
    assert _columns(store, "otel_traces") == EXPORTER_TRACE_COLUMNS


def test_otel_traces_skip_indexes_match_the_exporter(store: Store) -> None:
    rows = store.query(
        "SELECT name, expr, type_full, granularity FROM system.data_skipping_indices "
        "WHERE database = {db:String} AND table = 'otel_traces' ORDER BY name",
        {"db": store.database},
    ).result_rows
    assert sorted(tuple(r) for r in rows) == sorted(EXPORTER_TRACE_INDEXES)


def test_otel_traces_keys_partitioning_and_settings_match_the_exporter(store: Store) -> None:
    table = _table(store, "otel_traces")
    assert table["engine"] == "MergeTree"
    assert table["partition_key"] == "toDate(Timestamp)"
    assert table["sorting_key"] == "ServiceName, SpanName, toDateTime(Timestamp), Timestamp"
    assert table["primary_key"] == "ServiceName, SpanName, toDateTime(Timestamp)"
    engine_full = str(table["engine_full"])
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in engine_full
    assert "ttl_only_drop_parts = 1" in engine_full
    assert "index_granularity = 8192" in engine_full


def test_trace_id_ts_table_and_view_match_the_exporter(store: Store) -> None:
    assert _columns(store, "otel_traces_trace_id_ts") == EXPORTER_TRACE_ID_TS_COLUMNS
    table = _table(store, "otel_traces_trace_id_ts")
    assert table["partition_key"] == "toStartOfWeek(Start)"
    assert table["sorting_key"] == "(TraceId)"  # ORDER BY (TraceId), as the exporter writes it
    view = _table(store, "otel_traces_trace_id_ts_mv")
    assert view["engine"] == "MaterializedView"


def test_a_row_written_with_the_exporters_insert_columns_lands(store: Store) -> None:
    """The exporter's INSERT (traces_insert.sql column list) works against our table."""
    store.command(
        "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, "
        "SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, "
        "StatusCode, StatusMessage, `Events.Timestamp`, `Events.Name`, `Events.Attributes`, "
        "`Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`) VALUES "
        "(now64(9), 'a1', 'b1', '', '', 'allocate', 'Server', 'erp-east', {'service.name':'erp-east'}, "
        "'scope', '1.0', {'order.id':'SO-77','shipment.tracking_number':'1Z999'}, 1500, 'Ok', '', "
        "[now64(9)], ['held'], [{'k':'v'}], ['c1'], ['d1'], [''], [{}])"
    )
    assert store.scalar("SELECT SpanAttributes['order.id'] FROM otel_traces WHERE TraceId = 'a1'") == "SO-77"
    assert store.scalar("SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = 'a1'") == 1
    keys = {
        (r["Key"], r["KeyType"], r["OrderId"])
        for r in store.rows("SELECT Key, KeyType, OrderId FROM order_keys WHERE TraceId = 'a1'")
    }
    assert keys == {("SO-77", "order.id", "SO-77"), ("1Z999", "shipment.tracking_number", "SO-77")}


def test_writers_insert_every_stored_column_in_the_exporters_order(store: Store) -> None:
    from storage.schema import OTEL_TRACES_COLUMNS

    stored = [name for name, _, _, kind in _columns(store, "otel_traces") if kind != "ALIAS"]
    assert list(OTEL_TRACES_COLUMNS) == stored
