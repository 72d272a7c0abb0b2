"""Database poller: SQLite source, YAML row mapping, cursor persisted only after the export succeeded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from collector.agents.poller import Poller, PollerConfigError, load_mapping
from collector.agents.settings import PollerAgentSettings
from tracing import conventions as c

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
                    "t": f"2026-11-26T10:{i % 60:02d}:00",
                },
            )
    engine.dispose()
    return url


def poller(tmp_path: Path, make_emitter: Any, url: str, **overrides: Any) -> Poller:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING_YAML)
    settings = PollerAgentSettings(
        name="erp-east-status",
        url=url,
        table="order_status_log",
        cursor_column="id",
        batch_size=overrides.pop("batch_size", 4),
        mapping_file=mapping,
        system_instance="erp-east",
        **overrides,
    )
    return Poller(settings, make_emitter("erp-east", "poller"), tmp_path / "state")


def order_ids(sink: Any) -> list[str]:
    return [s.attributes[c.ORDER_ID] for s in sink.spans]


def test_rows_become_hop_spans_through_the_yaml_mapping(tmp_path: Path, sink: Any, make_emitter: Any) -> None:
    url = make_source(tmp_path / "erp.db", 3)
    p = poller(tmp_path, make_emitter, url)
    assert p.drain() == 3
    span = sink.spans[0]
    assert span.name == "erp status change"
    assert span.attributes[c.ORDER_ID] == "SO-1001"
    assert span.attributes[c.STAGE] == "allocation"
    assert span.attributes[c.STATUS] == "allocated"
    assert span.attributes[c.WAREHOUSE_ID] == "WH-EAST"
    assert span.attributes[c.CHANNEL] == "portal"
    assert span.attributes[c.SYSTEM_INSTANCE] == "erp-east"
    assert span.resource[c.SERVICE_NAME] == "erp-east"
    assert span.start_ns == 1795687260 * 10**9  # 2026-11-26T10:01:00 (naive = UTC)
    assert p.cursor == 3


def test_restart_mid_stream_loses_and_repeats_nothing(tmp_path: Path, sink: Any, make_emitter: Any) -> None:
    url = make_source(tmp_path / "erp.db", 10)
    first = poller(tmp_path, make_emitter, url)
    assert first.drain(max_batches=1) == 4  # stopped after one batch: "killed" mid-stream
    first.engine.dispose()
    make_source(tmp_path / "erp.db", 3)  # the ERP keeps writing meanwhile
    second = poller(tmp_path, make_emitter, url)  # restart: same state dir
    assert second.drain() == 9
    assert order_ids(sink) == [f"SO-{1000 + i}" for i in range(1, 14)]


def test_failed_export_keeps_the_cursor_and_the_rows_come_again(
    tmp_path: Path, sink: Any, make_emitter: Any
) -> None:
    url = make_source(tmp_path / "erp.db", 6)
    p = poller(tmp_path, make_emitter, url)
    assert p.drain(max_batches=1) == 4
    sink.fail_with = 400
    with pytest.raises(Exception, match="did not accept"):
        p.poll_once()
    assert p.cursor == 4
    sink.fail_with = None
    restarted = poller(tmp_path, make_emitter, url)
    assert restarted.drain() == 2
    assert order_ids(sink) == [f"SO-{1000 + i}" for i in range(1, 7)]


def test_crash_between_export_and_cursor_write_resends_identical_spans(
    tmp_path: Path, sink: Any, make_emitter: Any
) -> None:
    url = make_source(tmp_path / "erp.db", 2)
    p = poller(tmp_path, make_emitter, url)
    p.drain()
    ids = [(s.trace_id, s.span_id) for s in sink.spans]
    os.remove(p.cursor_path)  # as if the process died before the cursor reached the disk
    sink.spans.clear()
    poller(tmp_path, make_emitter, url).drain()
    assert [(s.trace_id, s.span_id) for s in sink.spans] == ids  # same ids: the store can drop the repeat


def test_query_source_and_cursor_file_is_valid_json(tmp_path: Path, sink: Any, make_emitter: Any) -> None:
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
    p = Poller(settings, make_emitter("wms", "poller"), tmp_path / "state")
    assert p.drain() == 3
    assert order_ids(sink) == ["SO-1001", "SO-1003", "SO-1005"]
    assert all(s.attributes[c.STAGE] == "pick" for s in sink.spans)
    assert p.cursor_path.read_text() == '{"cursor": 5, "source": "poller-agent:picks"}'


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
