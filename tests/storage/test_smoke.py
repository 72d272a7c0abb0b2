from storage import Store


def test_migrated_store_has_span_table(store: Store) -> None:
    tables = {r[0] for r in store.query("SHOW TABLES").result_rows}
    assert {"otel_traces", "otel_traces_trace_id_ts", "order_keys", "tower_migrations"} <= tables
