"""Database poller against the real collector: SQLite and PostgreSQL sources, YAML row mapping, cursor
persisted only after the export succeeded, rows the store cannot keep set aside with their reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clock import ANCHOR
from support.postgres import postgres_server

from collector.agents.emitter import Emitter
from collector.agents.poller import Poller, PollerConfigError, load_mapping
from collector.agents.settings import PollerAgentSettings
from tracing import conventions as c
from tracing.otlp_http import EmitError

MAPPING_YAML = """
span_name: erp status change
stage_column: stage
start_column: changed_at
attributes:
  order.id: order_no
  order.status: status
  warehouse.id: warehouse
static_attributes:
  order.channel: portal
"""


DAY = ANCHOR.date().isoformat()  # rows changed on the anchor's day (the collector keeps them)


def make_source(path: Path, rows: int) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS order_status_log (id INTEGER PRIMARY KEY, order_no TEXT, stage TEXT, "
                "status TEXT, warehouse TEXT, changed_at TEXT)"
            )
        )
        start = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM order_status_log")).scalar_one()
        for i in range(start + 1, start + rows + 1):
            conn.execute(
                sa.text("INSERT INTO order_status_log VALUES (:id, :o, :s, :st, :w, :t)"),
                {
                    "id": i,
                    "o": f"SO-{1000 + i}",
                    "s": "allocation",
                    "st": "allocated",
                    "w": "WH-EAST",
                    "t": f"{DAY}T10:{i % 60:02d}:00",
                },
            )
    engine.dispose()
    return url


def poller(tmp_path: Path, emitter: Emitter, service: str, url: str, **overrides: Any) -> Poller:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING_YAML)
    settings = PollerAgentSettings(
        name="erp-east-status",
        url=url,
        table="order_status_log",
        cursor_column="id",
        batch_size=overrides.pop("batch_size", 4),
        mapping_file=mapping,
        system_instance=service,
        **overrides,
    )
    return Poller(settings, emitter, tmp_path / "state")


def order_ids(spans: list[Any]) -> list[str]:
    return [s.attributes[c.ORDER_ID] for s in spans]


def test_rows_become_hop_spans_through_the_yaml_mapping(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    url = make_source(tmp_path / "erp.db", 3)
    p = poller(tmp_path, real_collector.emitter(service, "poller"), service, url)
    assert p.drain() == 3
    span = real_collector.spans(service)[0]
    assert span.name == "erp status change"
    assert span.attributes[c.ORDER_ID] == "SO-1001"
    assert span.attributes[c.STAGE] == "allocation"
    assert span.attributes[c.STATUS] == "allocated"
    assert span.attributes[c.WAREHOUSE_ID] == "WH-EAST"
    assert span.attributes[c.CHANNEL] == "portal"
    assert span.attributes[c.SYSTEM_INSTANCE] == service
    assert span.resource[c.SERVICE_NAME] == service
    assert (
        span.start_ns == int(datetime.fromisoformat(f"{DAY}T10:01:00+00:00").timestamp()) * 10**9
    )  # naive = UTC
    assert p.cursor == 3


def test_restart_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    url = make_source(tmp_path / "erp.db", 10)
    first = poller(tmp_path, real_collector.emitter(service, "poller"), service, url)
    assert first.drain(max_batches=1) == 4  # stopped after one batch: "killed" mid-stream
    first.engine.dispose()
    make_source(tmp_path / "erp.db", 3)  # the ERP keeps writing meanwhile
    second = poller(
        tmp_path, real_collector.emitter(service, "poller"), service, url
    )  # restart: same state dir
    assert second.drain() == 9
    assert order_ids(real_collector.spans(service)) == [f"SO-{1000 + i}" for i in range(1, 14)]


def test_failed_export_keeps_the_cursor_and_the_rows_come_again(
    tmp_path: Path, scripted: Any, scripted_emitter: Any, service: str
) -> None:
    # scripted receiver: the real collector cannot refuse one valid request and accept its retry on demand
    url = make_source(tmp_path / "erp.db", 6)
    p = poller(tmp_path, scripted_emitter(service, "poller"), service, url)
    assert p.drain(max_batches=1) == 4
    scripted.fail_with = 503  # the collector is busy: nothing is acknowledged, the cursor stays
    with pytest.raises(EmitError, match="collector answered 503"):
        p.poll_once()
    assert p.cursor == 4
    scripted.fail_with = None
    restarted = poller(tmp_path, scripted_emitter(service, "poller"), service, url)
    assert restarted.drain() == 2
    assert order_ids(scripted.spans) == [f"SO-{1000 + i}" for i in range(1, 7)]


def test_crash_between_export_and_cursor_write_resends_identical_spans(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    url = make_source(tmp_path / "erp.db", 2)
    p = poller(tmp_path, real_collector.emitter(service, "poller"), service, url)
    p.drain()
    ids = sorted((s.trace_id, s.span_id) for s in real_collector.spans(service))
    assert len(ids) == 2
    os.remove(p.cursor_path)  # as if the process died before the cursor reached the disk
    poller(tmp_path, real_collector.emitter(service, "poller"), service, url).drain()
    # the rows came again as the same spans (same ids): readers count each once
    assert sorted((s.trace_id, s.span_id) for s in real_collector.spans(service)) == sorted(ids * 2)


def test_query_source_and_cursor_file_is_valid_json(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    url = make_source(tmp_path / "erp.db", 5)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("stage: pick\nattributes: {order.id: order_no}\n")
    settings = PollerAgentSettings(
        name="picks",
        url=url,
        query="SELECT id AS seq, order_no FROM order_status_log WHERE id % 2 = 1",
        cursor_column="seq",
        mapping_file=mapping,
    )
    p = Poller(settings, real_collector.emitter(service, "poller"), tmp_path / "state")
    assert p.drain() == 3
    spans = real_collector.spans(service)
    assert order_ids(spans) == ["SO-1001", "SO-1003", "SO-1005"]
    assert all(s.attributes[c.STAGE] == "pick" for s in spans)
    assert p.cursor_path.read_text() == '{"cursor": 5, "source": "poller-agent:picks"}'


def test_a_mapping_naming_a_missing_column_fails_loudly_and_moves_nothing(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    url = make_source(tmp_path / "erp.db", 2)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("attributes: {order.id: order_number}\n")
    settings = PollerAgentSettings(name="typo", url=url, table="order_status_log", mapping_file=mapping)
    p = Poller(settings, real_collector.emitter(service, "poller"), tmp_path / "state")
    with pytest.raises(PollerConfigError, match="column\\(s\\) 'order_number' are not in the polled rows"):
        p.poll_once()
    assert p.cursor is None and real_collector.spans(service) == []


def test_hostile_configuration_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        PollerAgentSettings(url="sqlite://", table="orders; DROP TABLE orders")
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        PollerAgentSettings(url="sqlite://", table="orders", cursor_column="id) OR (1=1")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stage: pick\nstage_column: stage\n")
    with pytest.raises(PollerConfigError, match="give stage or stage_column, not both"):
        load_mapping(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("attributes: [unclosed\n")
    with pytest.raises(PollerConfigError, match=r"broken\.yaml"):
        load_mapping(broken)


def test_rows_whose_time_cannot_be_stored_are_kept_aside_and_never_block_the_rest(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    """Rows dated 1960 (cannot be encoded), 1972 (older than the store keeps) and 2300 (the real
    collector refuses it: the agent's own window is widened here) are written with their reasons to
    the rejected-rows file; the rows around them are stored and the cursor moves past them all."""
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    times = [
        f"{DAY}T09:00:00",
        "1960-01-01T00:00:00",
        f"{DAY}T09:30:00",
        "1972-03-21T00:00:00",
        "2300-01-01T00:00:00",
    ]
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE moves (id INTEGER PRIMARY KEY, order_no TEXT, at TEXT)"))
        for i, at in enumerate(times, start=1):
            conn.execute(sa.text("INSERT INTO moves VALUES (:i, :o, :t)"), {"i": i, "o": f"SO-{i}", "t": at})
    engine.dispose()
    settings = PollerAgentSettings(
        name="moves",
        url=url,
        table="moves",
        system_instance=service,
        mapping={"stage": "pick", "start_column": "at", "attributes": {"order.id": "order_no"}},
    )
    emitter = real_collector.emitter(service, "poller", max_ahead_s=400 * 365 * 86400)  # lets 2300 through
    p = Poller(settings, emitter, tmp_path / "state")
    try:
        assert p.drain() == 5
    finally:
        p.engine.dispose()
    assert p.cursor == 5 and p.rows_rejected == 3
    rejected = [json.loads(line) for line in p.rejected_path.read_text().splitlines()]
    assert [r["cursor"] for r in rejected] == [2, 4, 5]
    assert "1960-01-01T00:00:00Z is older than the 30 days the store keeps" in rejected[0]["reason"]
    assert "1972-03-21" in rejected[1]["reason"]
    assert (
        rejected[2]["reason"].startswith("collector rejected 1 span(s)")
        and "after the accepted window" in rejected[2]["reason"]
    )
    assert rejected[2]["row"] == {"id": 5, "order_no": "SO-5", "at": "2300-01-01T00:00:00"}
    stored = real_collector.spans(service)
    # the batch was partly accepted, then re-sent row by row with the same span ids: counted once
    assert sorted({s.attributes[c.ORDER_ID] for s in stored}) == ["SO-1", "SO-3"]
    assert len({s.span_id for s in stored}) == 2


# -- PostgreSQL: a throwaway server of its own (tests/support/postgres.py), or TOWER_TEST_POSTGRES_URL ------
@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """Fails (never skips) when no server can be started: these tests must see a real PostgreSQL."""
    with postgres_server() as url:
        yield url


def test_postgresql_source_restart_mid_stream(
    tmp_path: Path, real_collector: Any, service: str, postgres_url: str
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS order_status_log"))
        conn.execute(
            sa.text(
                "CREATE TABLE order_status_log (id BIGSERIAL PRIMARY KEY, order_no TEXT, stage TEXT, status TEXT, "
                "warehouse TEXT, changed_at TIMESTAMPTZ)"
            )
        )
        for i in range(1, 8):
            conn.execute(
                sa.text(
                    "INSERT INTO order_status_log (order_no, stage, status, warehouse, changed_at) "
                    "VALUES (:o, 'pick', 'picked', 'WH-WEST', :t)"
                ),
                {"o": f"SO-{1000 + i}", "t": f"{DAY}T10:00:{i:02d}Z"},
            )
    engine.dispose()
    first = poller(tmp_path, real_collector.emitter(service, "poller"), service, postgres_url, batch_size=3)
    assert first.drain(max_batches=1) == 3
    first.engine.dispose()
    second = poller(tmp_path, real_collector.emitter(service, "poller"), service, postgres_url, batch_size=3)
    assert second.drain() == 4
    second.engine.dispose()
    spans = real_collector.spans(service)
    assert order_ids(spans) == [f"SO-{1000 + i}" for i in range(1, 8)]
    assert spans[0].start_ns == int(datetime.fromisoformat(f"{DAY}T10:00:01+00:00").timestamp()) * 10**9


def test_postgresql_timestamp_cursor_survives_a_restart(
    tmp_path: Path, real_collector: Any, service: str, postgres_url: str
) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS shipments_log"))
        conn.execute(
            sa.text("CREATE TABLE shipments_log (changed_at TIMESTAMPTZ PRIMARY KEY, order_no TEXT)")
        )
        for i in range(1, 6):
            conn.execute(
                sa.text(
                    f"INSERT INTO shipments_log VALUES (TIMESTAMPTZ '{DAY} 10:00:00+00' + :s * INTERVAL '1 second', :o)"
                ),
                {"s": i, "o": f"SO-{2000 + i}"},
            )
    engine.dispose()
    mapping = tmp_path / "m.yaml"
    mapping.write_text("stage: ship\nstart_column: changed_at\nattributes: {order.id: order_no}\n")
    settings = PollerAgentSettings(
        name="ship-log",
        url=postgres_url,
        table="shipments_log",
        cursor_column="changed_at",
        batch_size=2,
        mapping_file=mapping,
    )
    first = Poller(settings, real_collector.emitter(service, "poller"), tmp_path / "state")
    assert first.drain(max_batches=1) == 2
    first.engine.dispose()
    assert '"t": "datetime"' in first.cursor_path.read_text()
    second = Poller(settings, real_collector.emitter(service, "poller"), tmp_path / "state")
    assert second.drain() == 3
    second.engine.dispose()
    assert order_ids(real_collector.spans(service)) == [f"SO-{2000 + i}" for i in range(1, 6)]
