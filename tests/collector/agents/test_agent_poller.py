"""Database poller: SQLite source, YAML row mapping, cursor persisted only after the export succeeded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clock import ANCHOR

from collector.agents.emitter import EmitError
from collector.agents.poller import Poller, PollerConfigError, load_mapping
from collector.agents.settings import PollerAgentSettings
from tracing import conventions as c

DAY = ANCHOR.strftime("%Y-%m-%d")  # the rows' day: the test clock's, which the store's retention keeps
DAY_10H = int(ANCHOR.replace(hour=10, minute=0).timestamp())

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
                    "t": f"{DAY}T10:{i % 60:02d}:00",
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
    assert span.start_ns == (DAY_10H + 60) * 10**9  # 10:01:00 (naive = UTC)
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
    sink.fail_with = 503  # the collector is busy: nothing is acknowledged, the cursor stays
    with pytest.raises(EmitError, match="collector answered 503"):
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


def test_a_mapping_naming_a_missing_column_fails_loudly_and_moves_nothing(
    tmp_path: Path, sink: Any, make_emitter: Any
) -> None:
    url = make_source(tmp_path / "erp.db", 2)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("attributes: {order.id: order_number}\n")
    settings = PollerAgentSettings(name="typo", url=url, table="order_status_log", mapping_file=mapping)
    p = Poller(settings, make_emitter("erp", "poller"), tmp_path / "state")
    with pytest.raises(PollerConfigError, match="column\\(s\\) 'order_number' are not in the polled rows"):
        p.poll_once()
    assert p.cursor is None and sink.spans == []


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


# -- PostgreSQL: a throwaway server when the binaries are installed (or TOWER_TEST_POSTGRES_URL) --------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Any:
    import shutil
    import subprocess
    import tempfile

    url = os.environ.get("TOWER_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (or set TOWER_TEST_POSTGRES_URL)")
    base = Path(tempfile.mkdtemp(prefix="tower-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        import pwd

        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user")
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = base / "data"
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", "tower", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *run_as,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server: {exc}")
    try:
        yield f"postgresql+psycopg://tower@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)


def test_postgresql_source_restart_mid_stream(
    tmp_path: Path, sink: Any, make_emitter: Any, postgres_url: str
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
                {"o": f"SO-{1000 + i}", "t": f"{DAY}T10:00:00Z"},
            )
    engine.dispose()
    first = poller(tmp_path, make_emitter, postgres_url, batch_size=3)
    assert first.drain(max_batches=1) == 3
    first.engine.dispose()
    second = poller(tmp_path, make_emitter, postgres_url, batch_size=3)
    assert second.drain() == 4
    second.engine.dispose()
    assert order_ids(sink) == [f"SO-{1000 + i}" for i in range(1, 8)]
    assert sink.spans[0].start_ns == DAY_10H * 10**9  # timestamptz -> the hop start


def test_postgresql_timestamp_cursor_survives_a_restart(
    tmp_path: Path, sink: Any, make_emitter: Any, postgres_url: str
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
                    "INSERT INTO shipments_log VALUES (CAST(:day AS TIMESTAMPTZ) + :s * INTERVAL '1 second', :o)"
                ),
                {"s": i, "o": f"SO-{2000 + i}", "day": f"{DAY} 10:00:00+00"},
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
    first = Poller(settings, make_emitter("tms", "poller"), tmp_path / "state")
    assert first.drain(max_batches=1) == 2
    first.engine.dispose()
    assert '"t": "datetime"' in first.cursor_path.read_text()
    second = Poller(settings, make_emitter("tms", "poller"), tmp_path / "state")
    assert second.drain() == 3
    second.engine.dispose()
    assert order_ids(sink) == [f"SO-{2000 + i}" for i in range(1, 6)]


def test_rows_whose_time_cannot_be_stored_are_kept_aside_and_never_block_the_rest(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    """Rows dated 1960 (cannot be encoded), 1972 (older than the store keeps) and 2300 (the real
    collector refuses it: the agent's own window is widened here) are written with their reasons to
    the rejected-rows file; the rows around them are stored and the cursor moves past them all."""
    import json as jsonlib

    from collector.agents.emitter import TimeWindow

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
    emitter = real_collector.emitter(service, "poller")
    emitter.window = TimeWindow(max_ahead_seconds=400 * 365 * 86400)  # lets 2300 reach the collector
    p = Poller(settings, emitter, tmp_path / "state")
    try:
        assert p.drain() == 5
    finally:
        p.engine.dispose()
    assert p.cursor == 5 and p.rows_rejected == 3
    rejected = [jsonlib.loads(line) for line in p.rejected_path.read_text().splitlines()]
    assert [r["cursor"] for r in rejected] == [2, 4, 5]
    assert "1960-01-01T00:00:00Z is older than the 30 days the store keeps" in rejected[0]["reason"]
    assert "1972-03-21" in rejected[1]["reason"]
    assert (
        rejected[2]["reason"].startswith("collector rejected 1 span(s)")
        and "out of range" in rejected[2]["reason"]
    )
    assert rejected[2]["row"] == {"id": 5, "order_no": "SO-5", "at": "2300-01-01T00:00:00"}
    stored = real_collector.spans(service)
    # the batch was partly accepted, then re-sent row by row with the same span ids: counted once
    assert sorted({s.attributes[c.ORDER_ID] for s in stored}) == ["SO-1", "SO-3"]
    assert len({s.span_id for s in stored}) == 2
