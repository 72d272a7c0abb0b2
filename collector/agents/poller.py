"""Database poller agent: order status changes in a SQL table or query -> hop spans.

Rows are read in cursor order (``WHERE cursor > :last ORDER BY cursor LIMIT :n``) through
SQLAlchemy, turned into spans by a YAML :class:`RowMapping`, exported, and only then the cursor is
written (atomically, in a JSON file). A crash before the cursor write resends the same rows with
the same span ids (ids derive from the row's cursor), so nothing is lost and nothing new is made.
A row that cannot become a span the store keeps (a time outside the window, or refused by the
collector) is written with its reason to ``poller-<name>.rejected.jsonl`` and the cursor moves on:
one bad row never stops the rows after it.
The cursor column must be strictly increasing (an identity column or a change sequence).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from collector.agents.emitter import AgentHop, AttrValue, Emitter, now_ns
from collector.agents.settings import PollerAgentSettings, RowMapping
from collector.agents.state import read_json, write_json_atomic
from storage import yamlfile
from storage.errors import TowerError
from tracing import conventions as c
from tracing.otlp_http import EmitError, SpansRejected

log = logging.getLogger(__name__)

POLLER_SOURCE = "poller.source"  # table name or "query"
POLLER_CURSOR = "poller.cursor"


class PollerConfigError(TowerError, ValueError):
    """The mapping file or the source is unusable; the message names the problem."""


def load_mapping(path: Path) -> RowMapping:
    """Read and validate a YAML row mapping; raises :class:`PollerConfigError` with one clear line."""
    try:
        data, node = yamlfile.parse(yamlfile.read_text(path, "mapping"), f"mapping file {path}")
    except yamlfile.YamlFileError as exc:
        raise PollerConfigError(str(exc)) from None
    try:
        return RowMapping.model_validate(data or {})
    except ValidationError as exc:
        first = yamlfile.problems(exc, node)[0]
        where = ".".join(str(p) for p in first.loc) or "mapping"
        line = f" line {first.line}" if first.line else ""
        raise PollerConfigError(f"mapping file {path}{line}: {where}: {first.message}") from None


def _ns(value: Any) -> int | None:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1e9)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1e9)
    if isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return _ns(dt)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1e9)
    return None


def _attr(value: Any) -> AttrValue | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_cursor(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {"t": "decimal", "v": str(value)}
    return value


def _from_json_cursor(value: Any) -> Any:
    if isinstance(value, dict) and value.get("t") == "datetime":
        return datetime.fromisoformat(value["v"])
    if isinstance(value, dict) and value.get("t") == "decimal":
        return Decimal(value["v"])
    return value


class Poller:
    """One configured source; :meth:`poll_once` exports at most one batch and then moves the cursor."""

    def __init__(self, settings: PollerAgentSettings, emitter: Emitter, state_dir: Path) -> None:
        self.settings = settings
        self.emitter = emitter
        self.mapping = load_mapping(settings.mapping_file) if settings.mapping_file else settings.mapping
        self.cursor_path = state_dir / f"poller-{settings.name}.cursor.json"
        self.rejected_path = state_dir / f"poller-{settings.name}.rejected.jsonl"
        self.rows_rejected = 0
        self.engine = sa.create_engine(settings.url.get_secret_value(), pool_pre_ping=True)
        self.name = f"poller-agent:{settings.name}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first, self._next = self._build_statements()

    def _build_statements(self) -> tuple[sa.TextClause, sa.TextClause]:
        prep = self.engine.dialect.identifier_preparer
        col = prep.quote(self.settings.cursor_column)
        if self.settings.table:
            source = ".".join(prep.quote(part) for part in self.settings.table.split("."))
        else:
            query = (self.settings.query or "").strip().rstrip(";")
            if not query.lower().startswith(("select", "with")):
                raise PollerConfigError("poller query must be a SELECT")
            source = f"({query}) AS tower_poll"
        # identifiers come quoted from validated config; values are bound parameters
        first = sa.text(f"SELECT * FROM {source} ORDER BY {col} LIMIT :limit")
        after = sa.text(f"SELECT * FROM {source} WHERE {col} > :cursor ORDER BY {col} LIMIT :limit")
        return first, after

    @property
    def cursor(self) -> Any:
        state = read_json(self.cursor_path, default=None)
        return None if state is None else _from_json_cursor(state.get("cursor"))

    def poll_once(self) -> int:
        """Export the next batch of rows; returns how many rows were acknowledged (0 when caught up)."""
        cursor = self.cursor
        with self.engine.connect() as conn:
            if cursor is None:
                result = conn.execute(self._first, {"limit": self.settings.batch_size})
            else:
                result = conn.execute(self._next, {"cursor": cursor, "limit": self.settings.batch_size})
            rows = [dict(r._mapping) for r in result]
        if not rows:
            return 0
        m = self.mapping
        wanted = [self.settings.cursor_column, *m.attributes.values()]
        wanted += [col for col in (m.stage_column, m.start_column, m.end_column) if col]
        missing = [col for col in wanted if col not in rows[0]]
        if missing:
            raise PollerConfigError(
                f"poller {self.settings.name}: column(s) {', '.join(map(repr, missing))} are not in the "
                f"polled rows (they have {', '.join(rows[0])})"
            )
        hops = [self.row_hop(row) for row in rows]
        good: list[tuple[dict[str, Any], AgentHop]] = []
        for row, hop in zip(rows, hops, strict=True):
            try:
                self.emitter.check_times([hop])
            except SpansRejected as exc:
                self._reject(row, exc.reason)
            else:
                good.append((row, hop))
        try:
            self.emitter.emit([hop for _, hop in good])  # EmitError: the cursor stays, the rows come again
        except SpansRejected:
            for row, hop in good:  # find the rows the collector refuses: one request each (same ids)
                try:
                    self.emitter.emit([hop])
                except SpansRejected as exc:
                    self._reject(row, exc.reason)
        last = rows[-1][self.settings.cursor_column]
        write_json_atomic(self.cursor_path, {"cursor": _json_cursor(last), "source": self.name})
        return len(rows)

    def _reject(self, row: dict[str, Any], reason: str) -> None:
        """Keep a row that cannot become a span, with its reason, in ``poller-<name>.rejected.jsonl``."""
        cursor = row.get(self.settings.cursor_column)
        record = {
            "cursor": _json_cursor(cursor),
            "reason": reason,
            "row": {k: _attr(v) for k, v in row.items()},
        }
        self.rejected_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.rejected_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.rows_rejected += 1
        log.warning(
            "%s: row %r not sent (kept in %s): %s", self.name, cursor, self.rejected_path.name, reason
        )

    def row_hop(self, row: dict[str, Any]) -> AgentHop:
        m = self.mapping
        received = now_ns()
        start = _ns(row.get(m.start_column)) if m.start_column else None
        start = start if start is not None else received
        end = _ns(row.get(m.end_column)) if m.end_column else None
        end = end if end is not None and end >= start else start
        attrs: dict[str, AttrValue] = {
            c.SYSTEM_KIND: self.settings.system_kind,
            c.SYSTEM_INSTANCE: self.settings.system_instance,
            POLLER_SOURCE: self.settings.table or "query",
            POLLER_CURSOR: str(row[self.settings.cursor_column]),
        }
        stage = m.stage or (str(row.get(m.stage_column) or "") if m.stage_column else "")
        if stage:
            attrs[c.STAGE] = stage
        attrs.update(m.static_attributes)
        for attribute, column in m.attributes.items():
            value = _attr(row.get(column))
            if value is not None and value != "":
                attrs[attribute] = value
        seed = f"poller:{self.settings.name}:{row[self.settings.cursor_column]}"
        hop = AgentHop(name=m.span_name, seed=seed, start_ns=start, end_ns=end, attributes=attrs)
        if attrs.get(c.EXCEPTION_TYPE):
            hop.error = f"{attrs[c.EXCEPTION_TYPE]} on {attrs.get(c.ORDER_ID, 'order')}"
        return hop

    def drain(self, max_batches: int | None = None) -> int:
        """Poll until caught up (or ``max_batches``); returns rows exported."""
        total = batches = 0
        while max_batches is None or batches < max_batches:
            n = self.poll_once()
            total += n
            batches += 1
            if n < self.settings.batch_size:
                break
        return total

    # -- service ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except EmitError as exc:
                log.warning("%s: export failed, will retry: %s", self.name, exc)
            except Exception:
                log.exception("%s: poll failed", self.name)
            self._stop.wait(self.settings.poll_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.engine.dispose()
        self.emitter.shutdown()
