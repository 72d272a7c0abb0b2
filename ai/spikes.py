"""Abnormal orders: a line's quantity (or the order's value) far above the customer's own history.

Robust statistics, chosen over an isolation forest because each customer and item has its own
normal: the median and the median absolute deviation (MAD) of the log quantity of that customer's
past lines of that item, and of the log value of their past orders. An order's score is its largest
robust z-score; the confidence is ``1 - exp(-(z - z0) / scale)`` above ``z0`` (0 below), so the
review and flag thresholds of the policy read as "how far beyond normal". History is what was known
before the orders judged (the ``history_days`` before them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_SCALE = 1.4826  # MAD -> standard deviation for a normal distribution
MIN_SIGMA = 0.3  # quantities within about a third of usual are normal, however steady the customer
MIN_VALUE_SIGMA = 0.5  # order values vary more (lines come and go)


@dataclass
class SpikeModel:
    z0: float = 3.5
    scale: float = 1.5
    min_history: int = 4
    history_days: int = 90

    def confidence(self, z: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(z), 0.0, 1.0 - np.exp(-np.maximum(z - self.z0, 0.0) / self.scale))


def explode(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order line: order, customer, item, quantity."""
    counts = orders["skus"].map(len).to_numpy()
    if not counts.sum():
        return pd.DataFrame({"order_id": [], "customer": [], "sku": [], "qty": np.zeros(0)})
    return pd.DataFrame(
        {
            "order_id": np.repeat(orders.index.to_numpy(), counts),
            "customer": np.repeat(orders["customer"].astype(str).to_numpy(), counts),
            "sku": np.concatenate([np.asarray(s, dtype=object) for s in orders["skus"]]).astype(str),
            "qty": np.concatenate([np.asarray(q, dtype="float64") for q in orders["quantities"]]),
        }
    )


@dataclass
class Baseline:
    """The customers' normal, from their history."""

    items: pd.DataFrame  # index (customer, sku): med, sigma, n
    values: pd.DataFrame  # index customer: med, sigma, n


def _robust(values: pd.Series, keys: list[str] | str, frame: pd.DataFrame, floor: float) -> pd.DataFrame:
    grouped = frame.assign(v=values.to_numpy(dtype="float64")).groupby(keys)["v"]
    med = grouped.median()
    centre = grouped.transform("median").to_numpy(dtype="float64")
    mad = frame.assign(d=np.abs(values.to_numpy(dtype="float64") - centre)).groupby(keys)["d"].median()
    return pd.DataFrame({"med": med, "sigma": np.maximum(mad * MAD_SCALE, floor), "n": grouped.size()})


def baseline(history: pd.DataFrame, customers: list[str] | None = None) -> Baseline:
    """The normal of ``customers`` (default: everyone in ``history``)."""
    if customers is not None:
        history = history[history["customer"].astype(str).isin(customers)]
    lines = explode(history)
    if lines.empty:
        empty_items = pd.DataFrame(
            columns=["med", "sigma", "n"],
            index=pd.MultiIndex.from_arrays([[], []], names=["customer", "sku"]),
        )
        return Baseline(empty_items, pd.DataFrame(columns=["med", "sigma", "n"]))
    items = _robust(np.log(lines["qty"].clip(lower=1)), ["customer", "sku"], lines, MIN_SIGMA)
    orders = pd.DataFrame({"customer": history["customer"].astype(str).to_numpy()})
    values = _robust(
        pd.Series(np.log1p(history["amount"].astype("float64").clip(lower=0)).to_numpy()),
        "customer",
        orders,
        MIN_VALUE_SIGMA,
    )
    return Baseline(items, values)


def score(model: SpikeModel, orders: pd.DataFrame, normal: Baseline) -> pd.DataFrame:
    """Per order: the largest robust z (``z``), which item (or the value) and by how much, the
    confidence. An order none of whose items has enough history is judged by its value."""
    out = pd.DataFrame(index=orders.index)
    out["z"] = np.nan
    out["item"] = ""
    out["ordered"] = np.nan
    out["usual"] = np.nan
    lines = explode(orders)
    if not lines.empty and not normal.items.empty:
        key = pd.MultiIndex.from_arrays([lines["customer"], lines["sku"]])
        stats = normal.items.reindex(key)
        enough = stats["n"].to_numpy(dtype="float64") >= model.min_history
        z = (np.log(lines["qty"].clip(lower=1)).to_numpy() - stats["med"].to_numpy(dtype="float64")) / stats[
            "sigma"
        ].to_numpy(dtype="float64")
        lines["z"] = np.where(enough, z, np.nan)
        lines["usual"] = np.exp(stats["med"].to_numpy(dtype="float64"))
        worst = (
            lines.dropna(subset=["z"])
            .sort_values("z", ascending=False)
            .drop_duplicates("order_id")
            .set_index("order_id")
        )
        out.loc[worst.index, "z"] = worst["z"]
        out.loc[worst.index, "item"] = worst["sku"]
        out.loc[worst.index, "ordered"] = worst["qty"]
        out.loc[worst.index, "usual"] = worst["usual"]
    if not normal.values.empty:
        stats = normal.values.reindex(orders["customer"].astype(str))
        enough = stats["n"].to_numpy(dtype="float64") >= model.min_history
        zv = (
            np.log1p(orders["amount"].astype("float64").clip(lower=0)).to_numpy()
            - stats["med"].to_numpy(dtype="float64")
        ) / stats["sigma"].to_numpy(dtype="float64")
        zv = np.where(enough, zv, np.nan)
        current = out["z"].to_numpy(dtype="float64")
        value_wins = ~np.isnan(zv) & np.isnan(current)
        out["z_value"] = zv
        out.loc[value_wins, "item"] = "order value"
        out.loc[value_wins, "ordered"] = orders.loc[value_wins, "amount"].astype("float64")
        out.loc[value_wins, "usual"] = np.expm1(stats["med"].to_numpy(dtype="float64"))[value_wins]
        out["z"] = np.where(value_wins, zv, current)
    else:
        out["z_value"] = np.nan
    out["confidence"] = model.confidence(out["z"].to_numpy(dtype="float64"))
    return out
