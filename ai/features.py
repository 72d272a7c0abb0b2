"""Feature building shared by the models: only what was known at the prediction time.

A fact is known once the span reporting it has ended (``known_ms``, ``stage_<s>`` first ends, ...).
Every function here takes the prediction times explicitly and reads nothing later; the test suite
checks that a span ending after the prediction time changes no feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ai.history import EXCEPTION_TYPES, HOUR_MS, STAGES

# product families by the SKU's prefix (the item master's category code)
FAMILIES = ("FAS", "ELE", "PLU", "TOO", "SAF", "PAC")
UNKNOWN = "unknown"


def weekday_hour(ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC weekday (0 = Monday) and hour of epoch milliseconds."""
    days = np.floor_divide(ms, 86_400_000)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    hour = np.floor_divide(np.mod(ms, 86_400_000), HOUR_MS)
    return weekday.astype("float64"), hour.astype("float64")


def family_shares(skus: pd.Series) -> pd.DataFrame:
    """The share of an order's lines in each product family (columns ``fam_<code>``)."""
    rows = np.zeros((len(skus), len(FAMILIES)))
    counts = np.fromiter((len(items) for items in skus), dtype=np.int64, count=len(skus))
    if counts.sum():
        index = {code: i for i, code in enumerate(FAMILIES)}
        cols = np.fromiter(
            (index.get(str(sku)[:3], -1) for items in skus for sku in items),
            dtype=np.int64,
            count=int(counts.sum()),
        )
        row_of = np.repeat(np.arange(len(skus)), counts)
        known = cols >= 0
        np.add.at(rows, (row_of[known], cols[known]), 1.0 / counts[row_of[known]])
    return pd.DataFrame(rows, index=skus.index, columns=[f"fam_{f.lower()}" for f in FAMILIES])


def content(lines: pd.DataFrame) -> pd.DataFrame:
    """What the order is, known from its first span: size, value, families, segment."""
    out = pd.DataFrame(index=lines.index)
    out["lines"] = lines["lines"].astype("float64")
    out["log_amount"] = np.log1p(lines["amount"].astype("float64").clip(lower=0))
    out["log_quantity"] = np.log1p(lines["quantity"].astype("float64").clip(lower=0))
    out = out.join(family_shares(lines["skus"]))
    for column in ("channel", "customer_tier", "credit_tier", "priority", "region"):
        out[column] = lines[column].astype(str)
    return out


@dataclass
class Categories:
    """The categories of each categorical feature, fixed at training so scoring encodes alike."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def learn(self, frame: pd.DataFrame, columns: list[str]) -> None:
        for column in columns:
            seen = sorted({str(v) for v in frame[column].unique()} | {UNKNOWN})
            self.values[column] = seen

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column, categories in self.values.items():
            values = out[column].astype(str)
            values = values.where(values.isin(categories), UNKNOWN)
            out[column] = pd.Categorical(values, categories=categories)
        return out

    def matrix(self, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """The columns as one float matrix, categories as their codes (unknown values as 'unknown'),
        for a gradient-boosting model fitted with :meth:`mask` as its categorical features."""
        out = np.empty((len(frame), len(columns)), dtype="float64")
        for j, column in enumerate(columns):
            categories = self.values.get(column)
            if categories is None:
                out[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
            else:
                codes = {value: float(i) for i, value in enumerate(categories)}
                unknown = codes[UNKNOWN]
                out[:, j] = [codes.get(str(v), unknown) for v in frame[column].to_numpy()]
        return out

    def mask(self, columns: list[str]) -> np.ndarray:
        return np.array([column in self.values for column in columns], dtype=bool)


def progress_at(progress: pd.DataFrame, orders: pd.Index | np.ndarray, t_ms: np.ndarray) -> pd.DataFrame:
    """Where each order stood at its prediction time: the furthest stage known, hours since the last
    known hop, exceptions opened, manual touches, the warehouse if allocated (rows align with
    ``orders``/``t_ms``)."""
    rows = progress.reindex(pd.Index(orders))
    n = len(rows)
    t = np.asarray(t_ms, dtype="float64")
    stage_ms = (
        np.column_stack([rows[f"stage_{s}"].to_numpy(dtype="float64") for s in STAGES])
        if n
        else np.zeros((0, len(STAGES)))
    )
    known = stage_ms <= t[:, None]
    reached = np.where(known.any(axis=1), (known * np.arange(1, len(STAGES) + 1)).max(axis=1) - 1, -1)
    last = np.where(known, stage_ms, -np.inf).max(axis=1) if n else np.zeros(0)
    out = pd.DataFrame(index=range(n))
    out["stage_reached"] = reached.astype("float64")
    out["stages_known"] = known.sum(axis=1).astype("float64")
    out["hours_since_hop"] = np.where(np.isfinite(last), (t - last) / HOUR_MS, np.nan)
    for kind in EXCEPTION_TYPES:
        if kind == "duplicate":
            continue
        opened = rows[f"exc_{kind}"].to_numpy(dtype="float64")
        out[f"exc_{kind}"] = (opened <= t).astype("float64")
    touches = rows["touches"].tolist() if n else []
    out["touches"] = [
        float(np.searchsorted(np.asarray(times if isinstance(times, list) else []), t[i], side="right"))
        for i, times in enumerate(touches)
    ]
    wh_ms = rows["warehouse_ms"].to_numpy(dtype="float64")
    warehouses = rows["warehouse"].fillna("").astype(str).to_numpy()
    out["warehouse"] = np.where(wh_ms <= t, warehouses, UNKNOWN)
    return out


class Backlog:
    """Orders allocated to a warehouse and not yet picked, at any moment (from what was known then)."""

    def __init__(self, progress: pd.DataFrame) -> None:
        self._alloc: dict[str, np.ndarray] = {}
        self._pick: dict[str, np.ndarray] = {}
        if progress.empty:
            return
        for warehouse, group in progress[progress["warehouse"] != ""].groupby("warehouse"):
            alloc = group["warehouse_ms"].to_numpy(dtype="float64")
            pick = group["stage_pick"].to_numpy(dtype="float64")
            pick = np.where(np.isnan(pick), np.inf, np.maximum(pick, alloc))
            self._alloc[str(warehouse)] = np.sort(alloc)
            self._pick[str(warehouse)] = np.sort(pick)

    @property
    def warehouses(self) -> list[str]:
        return sorted(self._alloc)

    def at(self, warehouses: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        """Backlog of ``warehouses[i]`` at ``t_ms[i]``: 0 for a warehouse with nothing allocated yet,
        NaN when the warehouse is not known (empty or 'unknown')."""
        whs = np.asarray(warehouses, dtype=object)
        named = np.array([bool(w) and w != UNKNOWN for w in whs.tolist()], dtype=bool)
        out = np.where(named, 0.0, np.nan)
        t = np.asarray(t_ms, dtype="float64")
        for warehouse in set(whs.tolist()):
            alloc = self._alloc.get(warehouse)
            if alloc is None:
                continue
            mask = whs == warehouse
            out[mask] = np.searchsorted(alloc, t[mask], side="right") - np.searchsorted(
                self._pick[warehouse], t[mask], side="right"
            )
        return out
