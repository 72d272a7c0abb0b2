"""What the models learn from and score: the store's own history, read as pandas frames.

Every frame records *when the tower knew* each fact (a span is known once it ends), so features can
be cut at any prediction time and labels at any training time. SQL lives in ``ai/queries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from storage import SqlFiles, Store
from storage.times import naive

SQL = SqlFiles("ai.queries")
STAGES = (
    "capture",
    "validation",
    "credit",
    "pricing",
    "allocation",
    "pick",
    "pack",
    "ship",
    "deliver",
    "invoice",
)
EXCEPTION_TYPES = (
    "credit_hold",
    "pricing",
    "stockout",
    "backorder",
    "edi_mapping",
    "carrier_delay",
    "carrier_exception",
    "invoice",
    "duplicate",
)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def to_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(float(value) / 1000, UTC)


def _frame(store: Store, name: str, parameters: dict[str, Any]) -> pd.DataFrame:
    result = store.query(SQL[name], parameters)
    return pd.DataFrame(result.result_rows, columns=list(result.column_names))


def _scope(orders: list[str] | None) -> dict[str, Any]:
    return {"any_order": int(orders is None), "orders": list(orders or [])}


def order_lines(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    customers: list[str] | None = None,
    orders: list[str] | None = None,
) -> pd.DataFrame:
    """One row per order (index ``order_id``) whose lines were first seen in [start, end)."""
    frame = _frame(
        store,
        "order_lines",
        {
            "from": naive(start),
            "to": naive(end),
            "any_customer": int(customers is None),
            "customers": list(customers or []),
            **_scope(orders),
        },
    )
    if frame.empty:
        frame = pd.DataFrame(columns=_LINE_COLUMNS)
    frame = frame.set_index("order_id")
    frame["lines"] = frame["skus"].map(len).astype("int64")
    for column in ("amount", "quantity", "start_ms", "known_ms"):
        frame[column] = pd.to_numeric(frame[column])
    return frame


_LINE_COLUMNS = [
    "order_id",
    "customer",
    "credit_tier",
    "customer_tier",
    "channel",
    "region",
    "priority",
    "system",
    "po",
    "web_id",
    "amount",
    "quantity",
    "skus",
    "quantities",
    "start_ms",
    "known_ms",
]


def order_progress(
    store: Store, start: datetime, end: datetime, until: datetime, *, orders: list[str] | None = None
) -> pd.DataFrame:
    """When each stage, exception, allocation and manual touch of the orders became known (ms; NaN when
    not by ``until``). Columns ``stage_<s>``, ``exc_<t>``, ``warehouse``, ``warehouse_ms``, ``touches``."""
    raw = _frame(
        store,
        "order_progress",
        {"from": naive(start), "to": naive(end), "until": naive(until), **_scope(orders)},
    )
    index = pd.Index(raw["order_id"] if not raw.empty else [], name="order_id")
    out = pd.DataFrame(index=index)
    for stage in STAGES:
        out[f"stage_{stage}"] = np.nan
    for kind in EXCEPTION_TYPES:
        out[f"exc_{kind}"] = np.nan
    out["warehouse"] = ""
    out["warehouse_ms"] = np.nan
    out["touches"] = pd.Series([[] for _ in range(len(out))], index=index, dtype=object)
    if raw.empty:
        return out
    stage_cols = {s: i for i, s in enumerate(STAGES)}
    exc_cols = {t: i for i, t in enumerate(EXCEPTION_TYPES)}
    stage_values = np.full((len(raw), len(STAGES)), np.nan)
    exc_values = np.full((len(raw), len(EXCEPTION_TYPES)), np.nan)
    warehouses: list[str] = []
    warehouse_ms = np.full(len(raw), np.nan)
    for row, (stages, stage_ms, excs, exc_ms, whs, wh_ms) in enumerate(
        zip(
            raw["stages"],
            raw["stage_ms"],
            raw["exceptions"],
            raw["exception_ms"],
            raw["warehouses"],
            raw["warehouse_ms"],
            strict=True,
        )
    ):
        for stage, t in zip(stages, stage_ms, strict=True):
            col = stage_cols.get(stage)
            if col is not None:
                stage_values[row, col] = t
        for kind, t in zip(excs, exc_ms, strict=True):
            col = exc_cols.get(kind)
            if col is not None:
                exc_values[row, col] = t
        if whs:
            first = int(np.argmin(wh_ms))
            warehouses.append(whs[first])
            warehouse_ms[row] = wh_ms[first]
        else:
            warehouses.append("")
    for stage, col in stage_cols.items():
        out[f"stage_{stage}"] = stage_values[:, col]
    for kind, col in exc_cols.items():
        out[f"exc_{kind}"] = exc_values[:, col]
    out["warehouse"] = warehouses
    out["warehouse_ms"] = warehouse_ms
    out["touches"] = [sorted(t) for t in raw["touch_ms"]]
    return out


def order_outcomes(
    store: Store, start: datetime, end: datetime, *, orders: list[str] | None = None
) -> pd.DataFrame:
    """The KPI engine's view of orders captured in [start, end): capture, ship and invoice end (ms, 0
    when not yet), status and segment."""
    frame = _frame(store, "order_outcomes", {"from": naive(start), "to": naive(end), **_scope(orders)})
    if frame.empty:
        frame = pd.DataFrame(
            columns=[
                "order_id",
                "capture_ms",
                "ship_ms",
                "invoice_ms",
                "status",
                "f_channel",
                "f_region",
                "f_warehouse",
                "f_customer_tier",
                "f_priority",
                "exception_types",
                "last_ms",
            ]
        )
    frame = frame.set_index("order_id")
    for column in ("capture_ms", "ship_ms", "invoice_ms", "last_ms"):
        frame[column] = pd.to_numeric(frame[column])
    return frame


def exception_spans(
    store: Store,
    start: datetime,
    end: datetime,
    label_until: datetime,
    *,
    orders: list[str] | None = None,
    spans: list[str] | None = None,
) -> pd.DataFrame:
    """Exceptions opened in [start, end), what the system said, and the reason code recorded at
    resolution if known by ``label_until`` (``recorded_cause``, '' otherwise)."""
    scope = {
        "any_order": int(orders is None and spans is None),
        "orders": list(orders or []),
        "spans": list(spans or []),
    }
    frame = _frame(
        store,
        "exception_spans",
        {"from": naive(start), "to": naive(end), "label_until": naive(label_until), **scope},
    )
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "order_id",
                "po",
                "span_id",
                "trace_id",
                "exception_type",
                "stage",
                "system",
                "system_kind",
                "span_name",
                "status_code",
                "status_message",
                "error_type",
                "message",
                "opened_ms",
                "recorded_cause",
                "resolved_ms",
            ]
        )
    frame["opened_ms"] = pd.to_numeric(frame["opened_ms"])
    frame["resolved_ms"] = pd.to_numeric(frame["resolved_ms"])
    frame.loc[frame["recorded_cause"] == "", "resolved_ms"] = np.nan
    return frame


@dataclass
class Window:
    """A time-based split: train on [train_from, train_to), measure on [holdout_from, holdout_to);
    labels known by ``label_until`` only."""

    train_from: datetime
    train_to: datetime
    holdout_from: datetime
    holdout_to: datetime
    label_until: datetime

    @classmethod
    def ending(cls, as_of: datetime, history_days: int, holdout_days: int, maturity_days: int) -> Window:
        """The split used when training at ``as_of``: the held-out window is the last ``holdout_days``
        whose outcomes are mature, the training window the ``history_days`` before it."""
        holdout_to = as_of - timedelta(days=maturity_days)
        holdout_from = holdout_to - timedelta(days=holdout_days)
        return cls(holdout_from - timedelta(days=history_days), holdout_from, holdout_from, holdout_to, as_of)
