"""Delay prediction: the probability that an open order misses an SLA, from what is known now.

One gradient-boosted model covers the SLAs named in the AI policy (``models.delay.slas``; wall-clock
SLAs that start at ``capture.start``), the SLA being a feature. Training rows are *snapshots*: an
order as it stood when one of its stages first became known, while the SLA was still open and not
yet breached; the label is whether the SLA's end edge came after the due time. The baseline is
today's per-stage timer: the share of the SLA's target already elapsed (calibrated on the same
training rows, so its Brier score is comparable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression

from ai import features as f
from ai.history import HOUR_MS, STAGES
from kpis.policy import Policy, Sla
from storage.errors import TowerError

CATEGORICAL = ["sla", "channel", "customer_tier", "credit_tier", "priority", "region", "warehouse"]
SEGMENT_FIELDS = {
    "channel": "channel",
    "priority": "priority",
    "customer_tier": "customer_tier",
    "region": "region",
}


class DelayError(TowerError, ValueError):
    """An SLA the delay model cannot cover (it must run on the wall clock from capture.start)."""


def supported(policy: Policy, names: list[str]) -> list[Sla]:
    slas = []
    for name in names:
        try:
            sla = policy.sla(name)
        except KeyError:
            raise DelayError(f"delay model: SLA {name!r} is not in the KPI policy") from None
        if (
            sla.clock != "wall"
            or (sla.start.stage, sla.start.at) != ("capture", "start")
            or sla.end.at != "end"
        ):
            raise DelayError(
                f"delay model: SLA {name!r} must run on the wall clock from capture.start to a stage's end"
            )
        if sla.end.stage not in ("ship", "invoice"):
            raise DelayError(f"delay model: SLA {name!r} must end at ship.end or invoice.end")
        slas.append(sla)
    return slas


def target_s(sla: Sla, segment: dict[str, str]) -> float:
    """The SLA's target for an order's segment: the first override whose ``when`` matches."""
    for override in sla.overrides:
        if all(segment.get(dim) == value for dim, value in override.when.fields().items()):
            return override.target
    return sla.target


def _targets(sla: Sla, frame: pd.DataFrame, columns: dict[str, str]) -> np.ndarray:
    if not sla.overrides:
        return np.full(len(frame), sla.target)
    keys = [
        frame[col].astype(str).to_numpy() if col in frame else np.full(len(frame), "")
        for col in columns.values()
    ]
    cache: dict[tuple[str, ...], float] = {}
    out = np.empty(len(frame))
    names = list(columns)
    for i, key in enumerate(zip(*keys, strict=True)):
        value = cache.get(key)
        if value is None:
            value = cache[key] = target_s(sla, dict(zip(names, key, strict=True)))
        out[i] = value
    return out


def snapshots(
    lines: pd.DataFrame,
    progress: pd.DataFrame,
    outcomes: pd.DataFrame,
    slas: list[Sla],
    label_until_ms: float,
    *,
    per_order: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Training/evaluation rows (order, SLA, prediction time) with their label (1 = missed).

    Prediction times are the moments stages first became known while the SLA was open and not yet
    breached; ``per_order`` keeps that many at random per order and SLA (all when None). Orders whose
    outcome is not known by ``label_until_ms`` (still open and not yet overdue) are left out.
    """
    common = lines.index.intersection(outcomes.index).intersection(progress.index)
    if common.empty:
        return pd.DataFrame(columns=["order_id", "sla", "t_ms", "label", "capture_ms", "label_target_s"])
    o = outcomes.loc[common]
    p = progress.loc[common]
    capture = o["capture_ms"].to_numpy(dtype="float64")
    cancelled = (o["status"] == "cancelled").to_numpy()
    final = pd.DataFrame(
        {
            "channel": o["f_channel"].astype(str),
            "priority": o["f_priority"].astype(str),
            "customer_tier": o["f_customer_tier"].astype(str),
            "region": o["f_region"].astype(str),
            "warehouse": o["f_warehouse"].astype(str),
        }
    )
    candidates = np.column_stack(
        [lines.loc[common, "known_ms"].to_numpy(dtype="float64")]
        + [p[f"stage_{s}"].to_numpy(dtype="float64") for s in STAGES]
    )
    rng = np.random.default_rng(seed)
    frames = []
    for sla in slas:
        target = _targets(sla, final, {**SEGMENT_FIELDS, "warehouse": "warehouse"}) * 1000
        end = o[f"{sla.end.stage}_ms"].to_numpy(dtype="float64")
        end = np.where(end > 0, end, np.nan)
        end_known = end <= label_until_ms
        due = capture + target
        late = np.where(end_known, end > due, np.where(label_until_ms > due, True, np.nan))
        usable = ~np.isnan(late.astype("float64")) & ~cancelled
        open_until = np.where(end_known, end, np.inf)
        valid = (
            (candidates >= capture[:, None])
            & (candidates < open_until[:, None])
            & (candidates < due[:, None])
            & (candidates <= label_until_ms)
            & usable[:, None]
        )
        rows, cols = np.nonzero(valid)
        if per_order is not None and len(rows):
            shuffled = rng.permutation(len(rows))
            rows, cols = rows[shuffled], cols[shuffled]
            rank = pd.Series(rows).groupby(rows).cumcount().to_numpy()
            rows, cols = rows[rank < per_order], cols[rank < per_order]
        frames.append(
            pd.DataFrame(
                {
                    "order_id": common[rows],
                    "sla": sla.name,
                    "t_ms": candidates[rows, cols],
                    "label": late[rows].astype("float64"),
                    "capture_ms": capture[rows],
                    "label_target_s": target[rows] / 1000,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def open_rows(
    lines: pd.DataFrame, progress: pd.DataFrame, outcomes: pd.DataFrame, slas: list[Sla], now_ms: float
) -> pd.DataFrame:
    """Rows to score now: each open SLA of each order captured and not cancelled, whose end edge is
    not known yet."""
    common = lines.index.intersection(outcomes.index)
    o = outcomes.loc[common]
    capture = o["capture_ms"].to_numpy(dtype="float64")
    alive = (o["status"] != "cancelled").to_numpy() & (capture <= now_ms)
    frames = []
    for sla in slas:
        end = o[f"{sla.end.stage}_ms"].to_numpy(dtype="float64")
        still_open = alive & ~((end > 0) & (end <= now_ms))
        idx = np.nonzero(still_open)[0]
        frames.append(
            pd.DataFrame(
                {
                    "order_id": common[idx],
                    "sla": sla.name,
                    "t_ms": now_ms,
                    "label": np.nan,
                    "capture_ms": capture[idx],
                    "label_target_s": np.nan,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def feature_frame(
    rows: pd.DataFrame,
    lines: pd.DataFrame,
    progress: pd.DataFrame,
    backlog: f.Backlog,
    slas: list[Sla],
    region_warehouses: dict[str, list[str]],
) -> pd.DataFrame:
    """The model's inputs for each row, from what was known at the row's ``t_ms``."""
    order_ids = rows["order_id"].to_numpy()
    t = rows["t_ms"].to_numpy(dtype="float64")
    capture = rows["capture_ms"].to_numpy(dtype="float64")
    unique = pd.Index(pd.unique(order_ids))
    static = f.content(lines.reindex(unique)).reindex(order_ids).reset_index(drop=True)
    state = f.progress_at(progress, order_ids, t)
    x = pd.concat([static, state], axis=1)
    x["sla"] = rows["sla"].to_numpy()
    by_name = {s.name: s for s in slas}
    target = np.empty(len(rows))
    for name, sla in by_name.items():
        mask = x["sla"].to_numpy() == name
        if mask.any():
            target[mask] = _targets(sla, x.loc[mask], {**SEGMENT_FIELDS, "warehouse": "warehouse"})
    x["target_h"] = target / 3600
    x["elapsed_h"] = (t - capture) / HOUR_MS
    x["elapsed_frac"] = x["elapsed_h"] / x["target_h"]
    due = capture + target * 1000
    x["remaining_h"] = (due - t) / HOUR_MS
    x["t_weekday"], x["t_hour"] = f.weekday_hour(t)
    x["due_weekday"], x["due_hour"] = f.weekday_hour(due)
    x["capture_weekday"], x["capture_hour"] = f.weekday_hour(capture)
    x["backlog"] = backlog.at(x["warehouse"].to_numpy(), t)
    regions = x["region"].to_numpy()
    for k, column in enumerate(("backlog_primary", "backlog_secondary")):
        names = np.array(
            [
                (region_warehouses.get(r) or ["", ""])[k] if len(region_warehouses.get(r) or []) > k else ""
                for r in regions
            ],
            dtype=object,
        )
        x[column] = backlog.at(names, t)
    return x


def region_warehouses(progress: pd.DataFrame, lines: pd.DataFrame) -> dict[str, list[str]]:
    """Each region's warehouses, most used first (the ERP's primary first)."""
    joined = progress[["warehouse"]].join(lines[["region"]], how="inner")
    joined = joined[joined["warehouse"] != ""]
    out: dict[str, list[str]] = {}
    for region, group in joined.groupby("region"):
        out[str(region)] = [str(w) for w in group["warehouse"].value_counts().index]
    return out


@dataclass
class DelayModel:
    """The fitted delay model and what scoring needs to encode features alike."""

    sla_names: list[str]
    columns: list[str]
    categories: f.Categories
    region_warehouses: dict[str, list[str]]
    model: HistGradientBoostingClassifier
    baseline: IsotonicRegression
    medians: dict[str, float] = field(default_factory=dict)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if x.empty:
            return np.zeros(0)
        return self.model.predict_proba(self.categories.matrix(x, self.columns))[:, 1]

    def baseline_predict(self, x: pd.DataFrame) -> np.ndarray:
        if x.empty:
            return np.zeros(0)
        return np.asarray(self.baseline.predict(x["elapsed_frac"].clip(0, 5).to_numpy()), dtype="float64")


def fit(
    x: pd.DataFrame, y: np.ndarray, sla_names: list[str], region_wh: dict[str, list[str]], seed: int = 0
) -> DelayModel:
    columns = [c for c in x.columns if c not in ("order_id",)]
    categories = f.Categories()
    categories.learn(x, CATEGORICAL)
    model = HistGradientBoostingClassifier(
        max_iter=250,
        learning_rate=0.06,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=categories.mask(columns),
        early_stopping=False,
        random_state=seed,
    )
    model.fit(categories.matrix(x, columns), y)
    baseline = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    baseline.fit(x["elapsed_frac"].clip(0, 5).to_numpy(), y)
    medians = {c: float(x[c].median()) for c in columns if c not in CATEGORICAL and x[c].notna().any()}
    return DelayModel(sla_names, columns, categories, region_wh, model, baseline, medians)


def explain(model: DelayModel, x: pd.DataFrame, top: int = 4) -> list[list[dict[str, Any]]]:
    """The features that moved each row's risk most: each replaced by a typical value (the training
    median, or 'unknown' for a category), the change in risk it causes."""
    base = model.predict(x)
    effects: list[list[tuple[float, str, Any]]] = [[] for _ in range(len(x))]
    for column in model.columns:
        if column in ("sla",):
            continue
        altered = x.copy()
        if column in CATEGORICAL:
            altered[column] = f.UNKNOWN
        elif column in model.medians:
            altered[column] = model.medians[column]
        else:
            continue
        delta = base - model.predict(altered)
        for i, d in enumerate(delta):
            effects[i].append((float(d), column, x[column].iloc[i]))
    out = []
    for row in effects:
        row.sort(key=lambda e: -abs(e[0]))
        out.append(
            [{"feature": name, "value": _plain(value), "effect": round(d, 4)} for d, name, value in row[:top]]
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 3)
    if isinstance(value, np.integer):
        return int(value)
    return str(value)
