"""Allocation recommendation: for an order waiting at allocation (or backordered), the warehouse of
its region most likely to ship it on time and in full, learnt from history.

A gradient-boosted model estimates P(on time in full | the order, a warehouse, that warehouse's
backlog when it was chosen) from the allocations the ERP actually made; each candidate warehouse is
scored and the best one recommended. On time = shipped within the policy's on-time SLA; in full =
no stock-out or backorder. Because history only shows the warehouse the ERP chose, a recommendation
policy is measured by inverse propensity weighting on a later window: the orders where the ERP
happened to choose what the model recommends, weighted by how rarely the ERP chooses that warehouse
for the region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from ai import features as f
from ai.delay import target_s
from ai.history import STAGES
from kpis.policy import Sla

CATEGORICAL = ["warehouse", "channel", "customer_tier", "credit_tier", "priority", "region"]


def decisions(lines: pd.DataFrame, progress: pd.DataFrame) -> pd.DataFrame:
    """Orders with an allocation: the warehouse chosen and the moment just before it was known."""
    joined = progress[progress["warehouse"] != ""][["warehouse", "warehouse_ms"]].join(
        lines[["region"]], how="inner"
    )
    return pd.DataFrame(
        {
            "order_id": joined.index,
            "chosen": joined["warehouse"].astype(str).to_numpy(),
            "t_ms": joined["warehouse_ms"].to_numpy(dtype="float64") - 1,
            "region": joined["region"].astype(str).to_numpy(),
        }
    )


def on_time_in_full(
    rows: pd.DataFrame, outcomes: pd.DataFrame, progress: pd.DataFrame, sla: Sla, label_until_ms: float
) -> np.ndarray:
    """1 when shipped within the on-time SLA with no stock-out or backorder, 0 when not, NaN when not
    known yet by ``label_until_ms``."""
    o = outcomes.reindex(rows["order_id"])
    p = progress.reindex(rows["order_id"])
    capture = o["capture_ms"].to_numpy(dtype="float64")
    ship = o["ship_ms"].to_numpy(dtype="float64")
    ship = np.where(ship > 0, ship, np.nan)
    segments = zip(
        o["f_channel"].astype(str),
        o["f_priority"].astype(str),
        o["f_customer_tier"].astype(str),
        o["f_region"].astype(str),
        o["f_warehouse"].astype(str),
        strict=True,
    )
    target = np.array(
        [
            target_s(sla, {"channel": c, "priority": pr, "customer_tier": t, "region": r, "warehouse": w})
            for c, pr, t, r, w in segments
        ]
    )
    due = capture + target * 1000
    short = (p["exc_stockout"].to_numpy(dtype="float64") <= label_until_ms) | (
        p["exc_backorder"].to_numpy(dtype="float64") <= label_until_ms
    )
    cancelled = (o["status"] == "cancelled").to_numpy()
    shipped = ship <= label_until_ms
    late = np.where(shipped, ship > due, label_until_ms > due)
    known = shipped | (label_until_ms > due) | short | cancelled
    good = ~short & ~cancelled & ~late
    return np.where(known, good.astype("float64"), np.nan)


def feature_frame(
    rows: pd.DataFrame,
    candidates: np.ndarray,
    lines: pd.DataFrame,
    progress: pd.DataFrame,
    backlog: f.Backlog,
    region_wh: dict[str, list[str]],
) -> pd.DataFrame:
    """Inputs for each (order, candidate warehouse) at the row's decision time."""
    order_ids = rows["order_id"].to_numpy()
    t = rows["t_ms"].to_numpy(dtype="float64")
    unique = pd.Index(pd.unique(order_ids))
    x = f.content(lines.reindex(unique)).reindex(order_ids).reset_index(drop=True)
    state = f.progress_at(progress, order_ids, t)
    for column in state.columns:
        if column.startswith("exc_") or column in ("touches", "hours_since_hop"):
            x[column] = state[column].to_numpy()
    x["warehouse"] = candidates
    x["backlog"] = backlog.at(candidates, t)
    regions = x["region"].to_numpy()
    primary = np.array([(region_wh.get(r) or [""])[0] for r in regions], dtype=object)
    x["is_primary"] = (candidates == primary).astype("float64")
    x["t_weekday"], x["t_hour"] = f.weekday_hour(t)
    capture = lines["start_ms"].reindex(order_ids).to_numpy(dtype="float64")
    x["hours_in_flow"] = (t - capture) / 3_600_000
    x["stage_reached"] = state["stage_reached"].to_numpy()
    return x


@dataclass
class AllocationModel:
    columns: list[str]
    categories: f.Categories
    region_warehouses: dict[str, list[str]]
    propensity: dict[str, float]  # P(the ERP chooses a warehouse | its region), from training history
    model: HistGradientBoostingClassifier

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if x.empty:
            return np.zeros(0)
        return self.model.predict_proba(self.categories.matrix(x, self.columns))[:, 1]

    def recommend(
        self, rows: pd.DataFrame, lines: pd.DataFrame, progress: pd.DataFrame, backlog: f.Backlog
    ) -> pd.DataFrame:
        """Per row: every candidate's P(on time in full), the best warehouse and its probability."""
        regions = rows["region"].astype(str).to_numpy()
        lists = [self.region_warehouses.get(r, []) for r in regions]
        counts = np.array([len(c) for c in lists], dtype=int)
        out = pd.DataFrame(index=pd.Index(rows["order_id"], name="order_id"))
        out["recommended"] = ""
        out["confidence"] = np.nan
        out["options"] = [{} for _ in range(len(out))]
        if not counts.sum():
            return out
        grid = pd.DataFrame(
            {
                "order_id": np.repeat(rows["order_id"].to_numpy(), counts),
                "t_ms": np.repeat(rows["t_ms"].to_numpy(dtype="float64"), counts),
                "region": np.repeat(regions, counts),
                "warehouse": np.array([w for c in lists for w in c], dtype=object),
            }
        )
        x = feature_frame(
            grid, grid["warehouse"].to_numpy(dtype=object), lines, progress, backlog, self.region_warehouses
        )
        grid["p"] = self.predict(x)
        options: dict[str, dict[str, float]] = {}
        for order, warehouse, p in zip(grid["order_id"], grid["warehouse"], grid["p"], strict=True):
            options.setdefault(str(order), {})[str(warehouse)] = round(float(p), 4)
        best = grid.sort_values("p", ascending=False).drop_duplicates("order_id").set_index("order_id")
        out.loc[best.index, "recommended"] = best["warehouse"].astype(str)
        out.loc[best.index, "confidence"] = best["p"].astype("float64")
        out["options"] = [options.get(str(o), {}) for o in out.index]
        return out


def fit(
    x: pd.DataFrame, y: np.ndarray, chosen: pd.DataFrame, region_wh: dict[str, list[str]], seed: int = 0
) -> AllocationModel:
    columns = list(x.columns)
    categories = f.Categories()
    categories.learn(x, CATEGORICAL)
    counts = chosen.groupby(["region", "chosen"]).size()
    totals = chosen.groupby("region").size()
    propensity = {f"{r}|{w}": float(n / totals[r]) for (r, w), n in counts.items()}
    model = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.06,
        max_leaf_nodes=31,
        min_samples_leaf=30,
        l2_regularization=1.0,
        categorical_features=categories.mask(columns),
        early_stopping=False,
        random_state=seed,
    )
    model.fit(categories.matrix(x, columns), y)
    return AllocationModel(columns, categories, region_wh, propensity, model)


def policy_value(
    model: AllocationModel, rows: pd.DataFrame, outcome: np.ndarray, recommended: np.ndarray
) -> dict[str, Any]:
    """Self-normalised inverse-propensity estimate of the on-time-in-full rate had the recommendations
    been followed, next to the rate of the warehouses actually chosen."""
    known = ~np.isnan(outcome)
    chosen = rows["chosen"].to_numpy(dtype=object)[known]
    regions = rows["region"].to_numpy(dtype=object)[known]
    y = outcome[known]
    rec = np.asarray(recommended, dtype=object)[known]
    propensity = np.array(
        [model.propensity.get(f"{r}|{w}", np.nan) for r, w in zip(regions, chosen, strict=True)]
    )
    match = (rec == chosen) & (propensity > 0)
    weights = np.where(match, 1.0 / np.where(propensity > 0, propensity, 1.0), 0.0)
    value = float((weights * y).sum() / weights.sum()) if weights.sum() > 0 else float("nan")
    return {
        "on_time_in_full_rate": round(value, 4),
        "baseline_rate": round(float(y.mean()), 4) if len(y) else float("nan"),
        "orders": int(known.sum()),
        "orders_matching_recommendation": int(match.sum()),
    }


__all__ = [
    "STAGES",
    "AllocationModel",
    "decisions",
    "feature_frame",
    "fit",
    "on_time_in_full",
    "policy_value",
]
