"""Which spans belong to an order: the attribution rules, in one place.

Real integrations break trace context (EDI files, batches, polling, nightly runs), so one order's
story spans many traces, and some spans never name the order. The tower attributes every span to
the orders it belongs to and keeps the result in the order-keyed table ``order_spans`` (one row per
order and span, sorted by order id and time), which the timeline, the search, the KPI jobs, the
SLAs, the exceptions and the alert signals all read. The rules (docs/conventions.md, "Which spans
belong to an order"):

1. **order**: a span belongs to the order its ``order.id`` names.
2. **batch**: a span listing orders in ``order.batch.order_ids`` (an EDI middleware batch, an invoice
   run, a consolidated invoice) belongs to *each* of them: a shared span.

A span that names no order belongs to

3. **key**: the orders whose own spans (spans naming them, rules 1-2) carry one of its *strong* keys
   (customer PO, web order id, shipment id, tracking number, invoice id): a carrier scan with only
   a tracking number, an EDI translation with only the PO — whichever arrives first;
4. **link**: the orders named by spans that link to it (a middleware batch linking to its EDI file
   span: the file is shared by each order of the batch; an order's first span linking to its
   translation);
5. **linked_from**: the orders named by spans it links to (a consolidated invoice linking to each
   order's ERP span, a poller linking into an order's trace);
6. **parent**: the orders of its parent span — unless it is *scoped*: a span carrying a strong key or
   a scope key (an EDI transaction-set number, ST02) belongs to one order's part of a shared parent
   and never inherits the parent's orders. So a file's ``translate 850`` child for one PO belongs to
   that PO's order only, while the file's 997 (no PO) is shared like the file;
7. **child**: the orders of its children that name them, carry their strong keys or hold them by
   this rule themselves (an EDI file span holds the orders of the POs its translations carry; a
   request span around an order's hop holds that order). Rules 6 and 7 together never carry one
   order's span to a sibling: orders go up from named or keyed children and down only to unscoped
   ones.

Weak keys (EDI interchange and group numbers, file and batch ids) find orders but never attribute
spans: one EDI file does not merge its 50 orders. Keys are classified in
:data:`tracing.conventions.KEY_ROLES` and stored as data (``tower_key_roles``) for the views.

Rules 1-2, and rule 3 when the key's owner is already stored, run in materialized views as spans
are written (any writer: the tower's collector, the OpenTelemetry Collector's ClickHouse exporter;
``storage/migrations/include/order_spans_{named,keyed}.sql``). The rest is this module's
*attribution step*: it reads what arrived since its watermark (``span_arrivals``, filled by a view)
and applies rules 3-7 in the other direction of arrival too — the span that resolves it arriving
after the span naming no order (a late key, a parent that ends after its child, a batch that
arrives before its file) — then follows parents down and up in rounds. The collector runs it after every write (an acknowledged hop is on
its order's timeline once the write is done), the scheduler every few seconds for other writers,
``tower migrate`` for spans stored before the table existed. Runs are idempotent: a (span, order)
pair already known is not written again; a span re-sent by an at-least-once sender collapses in the
ReplacingMergeTree and every reader dedupes by (trace id, span id) before merges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from storage import SqlFiles, Store
from storage.migrate import LOCAL_SUFFIX, Layout, fragment
from storage.times import naive
from tracing import conventions as c

log = logging.getLogger("tracing.attribution")
SQL = SqlFiles("tracing.queries")

# Why a span belongs to an order (order_spans.Via), and which reason wins when several apply.
VIA_RANK: Final[dict[str, int]] = {
    "order": 6,
    "batch": 5,
    "key": 4,
    "link": 3,
    "linked_from": 3,
    "child": 3,
    "parent": 2,
}
NAMED_VIAS: Final = frozenset({"order", "batch"})
ORDER_ID_ATTRIBUTES: Final = (c.ORDER_ID, c.BATCH_ORDER_IDS)
STRONG_KEYS: Final = frozenset(n for n, r in c.KEY_ROLES.items() if r is c.KeyRole.STRONG)
SCOPE_KEYS: Final = frozenset(n for n, r in c.KEY_ROLES.items() if r in (c.KeyRole.STRONG, c.KeyRole.SCOPE))
WEAK_KEYS: Final = frozenset(n for n, r in c.KEY_ROLES.items() if r is c.KeyRole.WEAK)
MAX_ROUNDS = 8  # parent chains deeper than this below an attributed span wait for the next run
RAW_ROUND_OFFSET = 100  # raw candidates of round r are kept as round 100 + r
# Inserts that started before a run's upper bound may commit just after it: each run re-reads this
# much before its watermark (a pair found twice is written once).
OVERLAP = timedelta(seconds=5)
# on a cluster: the collector's quorum inserts bound replication of what it acknowledged by 60 s
CLUSTER_OVERLAP = timedelta(seconds=120)
WATERMARK_JOB = "attribution"
BACKFILL = "order_spans_v1"
MIGRATION_NAME = "order_spans"  # the migration that created the order-keyed tables


@dataclass(frozen=True)
class AttributionRun:
    """What one run of the attribution step covered and found."""

    since: datetime
    until: datetime
    rounds: int
    attributed: int  # (span, order) pairs written
    duration_s: float


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Rule 3-6 queries over a window of arrivals; each runs only when the window holds spans it can
# resolve (attribute_window.sql counts them), since most windows hold only spans naming orders.
WINDOW_RULES: Final = (
    "key_late",
    "parent",
    "parent_late",
    "linked_from",
    "linked_from_late",
    "link",
    "link_late",
    "child",
    "child_late",
)


RAW_COLUMNS: Final = ("RunId", "Round", "TraceId", "SpanId", "OrderId", "Via", "Rank")
ROUND_COLUMNS: Final = (*RAW_COLUMNS, "StartNs", "ServiceName", "SpanName")
# Up to this many spans in a window (or attributed in a round), candidates go through Python with
# bound parameters; beyond it (a backfill day, a bulk load) they stay in ClickHouse, in
# attribution_rounds (INSERT ... SELECT).
SMALL = 2_000
# Attribution reads are point lookups of a few granules: one thread each costs less CPU.
POINT_SETTINGS: Final[dict[str, Any]] = {"max_threads": 1}
_TABLE_ROUND = (
    "SELECT TraceId, SpanId, OrderId, Via, Rank, StartNs, ServiceName, SpanName FROM attribution_rounds "
    "WHERE RunId = {run:UInt64} AND Round = {round:UInt8}"
)
_PARAM_ROUND = (
    "SELECT p.1 AS TraceId, p.2 AS SpanId, p.3 AS OrderId, p.4 AS Via, p.5 AS Rank, p.6 AS StartNs, "
    "p.7 AS ServiceName, p.8 AS SpanName "
    "FROM (SELECT arrayJoin({pairs:Array(Tuple(String, String, String, String, UInt8, Int64, String, String))}) AS p)"
)
Pair = tuple[str, str, str, str, int, int, str, str]  # trace, span, order, via, rank, start ns, service, name


def _with_round(sql: str, source: str) -> str:
    return sql.replace("/*ROUND*/", source)


def attribute_window(store: Store, since: datetime, until: datetime) -> AttributionRun:
    """Apply rules 3-7 to the spans that arrived in (since, until], following parents down and up."""
    started = time.perf_counter()
    params: dict[str, Any] = {"since": naive(since), "until": naive(until)}
    result = store.query(SQL["attribute_window"], params, settings=POINT_SETTINGS)
    counts = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    wanted = [rule for rule in WINDOW_RULES if counts and counts[0][rule]]
    if not wanted:
        return AttributionRun(_utc(since), _utc(until), 0, 0, time.perf_counter() - started)
    union = "\nUNION ALL\n".join(f"({_body(SQL[f'attribute_{rule}'])})" for rule in wanted)
    rules = f"SELECT * FROM ({union})"
    if max(int(v) for v in counts[0].values()) <= SMALL:
        rounds, total = _small_run(store, rules, params)
    else:
        rounds, total = _large_run(store, rules, params)
    return AttributionRun(_utc(since), _utc(until), rounds, total, time.perf_counter() - started)


def _small_run(store: Store, rules: str, params: dict[str, Any]) -> tuple[int, int]:
    """A run over a few spans: candidates, the filter and the next round's inputs pass through
    Python as bound parameters (no scratch table)."""
    candidates = store.query(rules, params, settings=POINT_SETTINGS).result_rows
    total = 0
    for round_no in range(MAX_ROUNDS):
        pairs = _filter(store, candidates)
        if not pairs:
            return round_no + 1, total
        store.command(
            _with_round(SQL["attribute_apply"], _PARAM_ROUND), {"pairs": pairs}, settings=POINT_SETTINGS
        )
        total += len(pairs)
        if len(pairs) > SMALL:  # grew beyond a few: carry on in ClickHouse
            run = _new_run()
            store.insert("attribution_rounds", [[run, round_no, *p] for p in pairs], ROUND_COLUMNS)
            more_rounds, more = _large_rounds(store, run, round_no + 1, params)
            return round_no + 1 + more_rounds, total + more
        cascade = _with_round(SQL["attribute_cascade"], _PARAM_ROUND)
        candidates = store.query(cascade, {"pairs": pairs}, settings=POINT_SETTINGS).result_rows
    return MAX_ROUNDS, total


def _filter(store: Store, candidates: Sequence[Sequence[Any]]) -> list[Pair]:
    """Of (trace, span, order, via, rank) candidates, the pairs of a span that names no order and an
    order it is not attributed to yet, the strongest reason per pair (attribute_filter.sql in SQL)."""
    if not candidates:
        return []
    refs = sorted({(str(c[0]), str(c[1])) for c in candidates})
    details: dict[tuple[str, str], tuple[int, str, str]] = {}
    known: set[tuple[str, str, str]] = set()
    for kind, trace, span, order, start_ns, service, name in store.query(
        SQL["attribute_lookup"], {"refs": refs}, settings=POINT_SETTINGS
    ).result_rows:
        if kind == "orderless":
            details[(trace, span)] = (int(start_ns), service, name)
        else:
            known.add((trace, span, order))
    best: dict[tuple[str, str, str], tuple[str, int]] = {}
    for trace, span, order, via, rank in candidates:
        if (trace, span) not in details or (trace, span, order) in known or not order:
            continue
        if (trace, span, order) not in best or rank > best[(trace, span, order)][1]:
            best[(trace, span, order)] = (via, int(rank))
    return [
        (trace, span, order, via, rank, *details[(trace, span)])
        for (trace, span, order), (via, rank) in sorted(best.items())
    ]


def _new_run() -> int:
    return (time.time_ns() ^ threading.get_ident()) & 0x7FFF_FFFF_FFFF_FFFF


def _large_run(store: Store, rules: str, params: dict[str, Any]) -> tuple[int, int]:
    """A run over many spans: candidates stay in ClickHouse (attribution_rounds)."""
    run = _new_run()
    store.command(
        f"INSERT INTO attribution_rounds ({', '.join(RAW_COLUMNS)}) "
        f"SELECT {run}, {RAW_ROUND_OFFSET}, * FROM ({rules})",
        params,
        settings=POINT_SETTINGS,
    )
    return _large_rounds(store, run, 0, params, raw_ready=True)


def _large_rounds(
    store: Store, run: int, first: int, params: dict[str, Any], *, raw_ready: bool = False
) -> tuple[int, int]:
    total = 0
    rounds = 0
    for round_no in range(first, MAX_ROUNDS):
        raw = RAW_ROUND_OFFSET + round_no
        if not (raw_ready and round_no == first):
            source = _TABLE_ROUND.replace("{round:UInt8}", str(round_no - 1))
            cascade = _body(_with_round(SQL["attribute_cascade"], source))
            store.command(
                f"INSERT INTO attribution_rounds ({', '.join(RAW_COLUMNS)}) SELECT {run}, {raw}, * FROM ({cascade})",
                {**params, "run": run},
                settings=POINT_SETTINGS,
            )
        rounds += 1
        if not _count(store, run, raw):
            break
        store.command(
            f"INSERT INTO attribution_rounds ({', '.join(ROUND_COLUMNS)}) "
            f"SELECT {run}, {round_no}, * FROM ({_body(SQL['attribute_filter'])})",
            {**params, "run": run, "raw_round": raw},
            settings=POINT_SETTINGS,
        )
        found = _count(store, run, round_no)
        if not found:
            break
        store.command(
            _with_round(SQL["attribute_apply"], _TABLE_ROUND),
            {"run": run, "round": round_no},
            settings=POINT_SETTINGS,
        )
        total += found
    return rounds, total


def _body(sql: str) -> str:
    """A query file's text without its comment lines (to combine several in one statement)."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()


def _count(store: Store, run: int, round_no: int) -> int:
    return int(
        store.scalar(
            "SELECT count() FROM attribution_rounds WHERE RunId = {run:UInt64} AND Round = {round:UInt8}",
            {"run": run, "round": round_no},
        )
    )


def watermark(store: Store) -> datetime | None:
    value = store.scalar(
        "SELECT argMax(Watermark, Version) FROM job_watermarks WHERE Job = {job:String} HAVING count() > 0",
        {"job": WATERMARK_JOB},
    )
    return _utc(value) if isinstance(value, datetime) else None


def set_watermark(store: Store, value: datetime) -> None:
    store.insert(
        "job_watermarks",
        [[WATERMARK_JOB, naive(value), datetime.now(UTC).replace(tzinfo=None), time.time_ns()]],
        ["Job", "Watermark", "UpdatedAt", "Version"],
    )


def default_overlap(store: Store) -> timedelta:
    """:data:`OVERLAP` on one server; :data:`CLUSTER_OVERLAP` on a cluster, where ``ArrivedAt`` is
    stamped by the replica that took the insert and the others see the row once it is replicated."""
    return CLUSTER_OVERLAP if store.cluster else OVERLAP


def attribute_arrivals(store: Store, *, overlap: timedelta | None = None) -> AttributionRun:
    """One incremental run: everything that arrived since the watermark (less ``overlap``, by
    default :func:`default_overlap`), then the watermark moves to the run's upper bound. The first
    run ever starts when the order-keyed tables were created; spans stored before are the
    backfill's (:func:`backfill`)."""
    if overlap is None:
        overlap = default_overlap(store)
    until = store.now()
    last = watermark(store)
    if last is None:  # the first run: from when the tables were created (the backfill did before)
        created = store.scalar(
            "SELECT min(AppliedAt) FROM tower_migrations WHERE Name = {name:String}", {"name": MIGRATION_NAME}
        )
        last = _utc(created) if isinstance(created, datetime) else datetime(1970, 1, 1, tzinfo=UTC)
    since = last - overlap
    result = attribute_window(store, since, until)
    set_watermark(store, until)
    return result


class Attributor:
    """The attribution step for one process. A writer calls :meth:`begin` before each insert and
    :meth:`after_write` after it (its arrivals are attributed at once); the scheduler calls
    :meth:`run`, which covers everything since the persisted watermark (other writers included).
    Runs never overlap; a failed run is logged (the spans are stored; a later run picks them up).
    """

    def __init__(self, store: Store, *, overlap: timedelta | None = None) -> None:
        self.store = store
        self.overlap = default_overlap(store) if overlap is None else overlap
        self._lock = threading.Lock()
        self.last: AttributionRun | None = None
        self.failures = 0

    def begin(self) -> datetime | None:
        """The store's clock before a write (None when the store cannot be asked)."""
        try:
            return self.store.now()
        except Exception:
            log.exception("attribution: cannot read the store's clock")
            return None

    def after_write(self, began: datetime | None) -> int:
        """Attribute what arrived since ``began`` (a write's insert time lies after it)."""
        if began is None:
            return 0
        return self._guarded(
            lambda: attribute_window(self.store, began - timedelta(seconds=1), self.store.now())
        )

    def run(self) -> int:
        """Attribute what arrived since the watermark; returns the (span, order) pairs written."""
        return self._guarded(lambda: attribute_arrivals(self.store, overlap=self.overlap))

    def _guarded(self, call: Callable[[], AttributionRun]) -> int:
        with self._lock:
            try:
                self.last = call()
            except Exception:  # the collector and the scheduler carry on; the next run catches up
                self.failures += 1
                log.exception("attribution run failed")
                return 0
            return self.last.attributed


# -- backfill ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillStep:
    name: str  # "day 2026-11-03"
    rows: int


def _done_steps(store: Store) -> set[str]:
    return {
        row[0]
        for row in store.query(
            "SELECT Step FROM tower_backfills FINAL WHERE Backfill = {b:String}", {"b": BACKFILL}
        ).result_rows
    }


def is_backfilled(store: Store) -> bool:
    """Whether the backfill of the order-keyed tables has finished (``tower migrate`` ran it)."""
    return "complete" in _done_steps(store)


def pending_days(store: Store) -> list[str]:
    """Days of ``otel_traces`` up to the day the order-keyed tables were created that the backfill
    has not finished, oldest first (later spans were attributed as they arrived)."""
    if "complete" in _done_steps(store):
        return []
    created = store.scalar(
        "SELECT min(AppliedAt) FROM tower_migrations WHERE Name = {name:String}", {"name": MIGRATION_NAME}
    )
    if not isinstance(created, datetime):
        return []
    # the parts are the data table's: otel_traces_local on a cluster (where otel_traces is the
    # Distributed table, which has no parts); a replicated single shard holds every day on each node
    table = "otel_traces" + (LOCAL_SUFFIX if store.cluster else "")
    days = [
        str(row[0])
        for row in store.query(
            "SELECT DISTINCT toDate(min_time) AS day FROM system.parts "
            "WHERE database = currentDatabase() AND table = {table:String} AND active "
            "AND toDate(min_time) <= toDate({created:DateTime64(3)}) ORDER BY day",
            {"created": created, "table": table},
        ).result_rows
    ]
    done = _done_steps(store)
    return [day for day in days if f"day {day}" not in done]


def mark_backfilled(store: Store) -> None:
    """Record that nothing needs backfilling (the tables were created on an empty store)."""
    store.insert(
        "tower_backfills",
        [[BACKFILL, "complete", 0, datetime.now(UTC).replace(tzinfo=None)]],
        ["Backfill", "Step", "Rows", "DoneAt"],
    )


def backfill(store: Store, progress: Callable[[int, int, str], None] | None = None) -> list[BackfillStep]:
    """Fill the order-keyed tables from spans stored before they existed, one day at a time.

    Per day of ``otel_traces``: the spans naming orders, and the spans naming none whose strong
    key's owner is stored, are copied into ``order_spans`` (the views' own SELECTs), every span's
    attribution facts into ``span_arrivals`` (the views fill ``span_orders`` and
    ``orderless_spans``), then the attribution step runs over that day's arrivals. Each finished
    day is recorded in ``tower_backfills``, so an interrupted backfill resumes with the next day;
    running it again changes nothing (rows already there collapse, known pairs are skipped).
    ``progress(done, total, step)`` is called after each day.
    """
    if is_backfilled(store):
        return []  # what every process start finds: no insert (an insert costs the CLI ~1 s)
    days = pending_days(store)
    layout = Layout.of(store)
    steps: list[BackfillStep] = []
    for i, day in enumerate(days):
        source = (
            "(SELECT * FROM otel_traces WHERE Timestamp >= toDateTime64({day:Date}, 9, 'UTC') "
            "AND Timestamp < toDateTime64({day:Date} + 1, 9, 'UTC'))"
        )
        before = store.now()
        for name in ("order_spans_named", "order_spans_keyed_join"):  # what the views do as spans arrive
            store.command(
                f"INSERT INTO order_spans ({_ORDER_SPAN_COLUMNS}) {fragment(name, layout, source)}",
                {"day": day},
            )
        store.command(
            f"INSERT INTO span_arrivals ({_FACT_COLUMNS}) {fragment('span_facts', layout, source)}",
            {"day": day},
        )
        rows = int(
            store.scalar(
                "SELECT count() FROM otel_traces WHERE Timestamp >= toDateTime64({day:Date}, 9, 'UTC') "
                "AND Timestamp < toDateTime64({day:Date} + 1, 9, 'UTC')",
                {"day": day},
            )
        )
        attribute_window(store, before - timedelta(milliseconds=1), store.now())
        store.insert(
            "tower_backfills",
            [[BACKFILL, f"day {day}", rows, datetime.now(UTC).replace(tzinfo=None)]],
            ["Backfill", "Step", "Rows", "DoneAt"],
        )
        steps.append(BackfillStep(f"day {day}", rows))
        if progress is not None:
            progress(i + 1, len(days), f"day {day}")
    mark_backfilled(store)
    return steps


_ORDER_SPAN_COLUMNS = (
    "OrderId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, "
    "ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage, "
    "`Events.Timestamp`, `Events.Name`, `Events.Attributes`, "
    "`Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, Via, Rank"
)
_FACT_COLUMNS = (
    "TraceId, SpanId, ParentSpanId, Timestamp, ServiceName, SpanName, OrderIds, StrongKeys, Scoped, "
    "LinkTraceIds, LinkSpanIds"
)
