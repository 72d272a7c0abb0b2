"""Scoring with the active models: what the scheduler runs every few minutes (and ``tower ai score``).

Each run reads the recent history, scores what is new or still open with the *active* version of
each model the policy switches on, and writes one prediction per subject whose score or decision
changed, with the features, the thresholds in force and the decision (``ai.controls``). Candidates
never score. Nothing is written anywhere but the prediction log: the tower never changes ERP data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ai import allocation as al
from ai import controls
from ai import delay as dl
from ai import duplicates as dp
from ai import features as f
from ai import spikes as sp
from ai.compute import limited
from ai.history import exception_spans, from_ms, order_lines, order_outcomes, order_progress, to_ms
from ai.policy import AiPolicy
from ai.predictions import Prediction, PredictionLog
from ai.registry import ModelVersion, Registry
from kpis.policy import Policy
from storage import Store

log = logging.getLogger(__name__)
LOOKBACK_DAYS = 14  # open orders older than this are not scored
CHANGE = 0.02  # a delay risk is written again when it moved at least this much (or its decision did)


@dataclass
class Snapshot:
    """The recent history as known at ``now``."""

    now: datetime
    lines: pd.DataFrame
    progress: pd.DataFrame
    outcomes: pd.DataFrame
    exceptions: pd.DataFrame
    backlog: f.Backlog

    @property
    def now_ms(self) -> float:
        return float(to_ms(self.now))


def snapshot(
    store: Store, now: datetime, lookback_days: int = LOOKBACK_DAYS, history_days: int = 0
) -> Snapshot:
    start = now - timedelta(days=max(lookback_days, history_days))
    lines = order_lines(store, start, now + timedelta(seconds=1))
    progress = order_progress(
        store, now - timedelta(days=lookback_days), now + timedelta(seconds=1), now + timedelta(seconds=1)
    )
    outcomes = order_outcomes(store, now - timedelta(days=lookback_days + 1), now + timedelta(seconds=1))
    exceptions = exception_spans(store, now - timedelta(days=lookback_days), now + timedelta(seconds=1), now)
    return Snapshot(now, lines, progress, outcomes, exceptions, f.Backlog(progress))


def _plain(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{float(value):.6g}"
    return str(value)


def _features(x: pd.DataFrame, i: int) -> dict[str, str]:
    return {str(c): _plain(x[c].iloc[i]) for c in x.columns}


@dataclass
class Scorer:
    store: Store
    kpi_policy: Policy
    policy: AiPolicy
    threads: int = 1
    _models: dict[tuple[str, int], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.registry = Registry(self.store)
        self.log = PredictionLog(self.store)

    def active(self) -> dict[str, tuple[ModelVersion, Any]]:
        """The active version of each model the policy switches on, loaded (cached by version)."""
        out = {}
        for name in self.policy.enabled_models():
            version = self.registry.active(name)
            if version is None:
                continue
            key = (name, version.version)
            if key not in self._models:
                self._models[key] = self.registry.load(name, version.version)
            out[name] = (version, self._models[key])
        return out

    def run(self, now: datetime | None = None, only: list[str] | None = None) -> dict[str, int]:
        """Score now; returns predictions written per model."""
        now = now or datetime.now(UTC)
        models = {k: v for k, v in self.active().items() if only is None or k in only}
        if not models:
            return {}
        snap = snapshot(self.store, now)
        written: dict[str, int] = {}
        with limited(self.threads):
            for name, (version, fitted) in models.items():
                try:
                    predictions = getattr(self, f"_{name}")(version, fitted, snap)
                    written[name] = self.log.write(predictions)
                except Exception:
                    log.exception("scoring %s failed", name)
                    written[name] = -1
        return written

    # -- per model --------------------------------------------------------------------------------

    def _new_orders(self, snap: Snapshot, model: str, hours: float) -> pd.DataFrame:
        recent = snap.lines[snap.lines["known_ms"] >= snap.now_ms - hours * 3_600_000]
        if recent.empty:
            return recent
        seen = {
            p.subject
            for p in self.log.latest(model=model, subjects=list(recent.index), limit=len(recent) + 10)
        }
        return recent[~recent.index.isin(seen)]

    def _duplicates(
        self, version: ModelVersion, model: dp.DuplicateModel, snap: Snapshot
    ) -> list[Prediction]:
        policy = self.policy.models.duplicates
        new = self._new_orders(snap, "duplicates", policy.window_hours)
        if new.empty:
            return []
        matched = dp.match(new, snap.lines, model.window_hours)
        x = dp.feature_frame(new, matched)
        scores = model.predict(x)
        out = []
        for i, order in enumerate(new.index):
            ruling = controls.anomaly(float(scores[i]), policy)
            candidate = str(matched["candidate"].iloc[i])
            out.append(
                Prediction(
                    "duplicates",
                    version.version,
                    str(order),
                    "",
                    from_ms(new["known_ms"].iloc[i]),
                    float(scores[i]),
                    candidate,
                    _features(x, i),
                    ruling.thresholds,
                    str(ruling.decision),
                    ruling.reason + (f"; closest earlier order {candidate}" if candidate else ""),
                )
            )
        return out

    def _spikes(self, version: ModelVersion, model: sp.SpikeModel, snap: Snapshot) -> list[Prediction]:
        policy = self.policy.models.spikes
        new = self._new_orders(snap, "spikes", 48)
        if new.empty:
            return []
        first = float(new["known_ms"].min())
        customers = sorted(set(new["customer"].astype(str)))
        # the customers' own history only (not everyone's): what they ordered before these orders
        history = order_lines(
            self.store,
            from_ms(first) - timedelta(days=model.history_days),
            from_ms(first),
            customers=customers,
        )
        history = history[history["known_ms"] < first]
        scored = sp.score(model, new, sp.baseline(history, customers))
        out = []
        for i, order in enumerate(new.index):
            row = scored.iloc[i]
            ruling = controls.anomaly(float(row["confidence"]), policy)
            detail = (
                f"; {row['item']}: {row['ordered']:,.0f} against a usual {row['usual']:,.0f}"
                if row["item"] and not np.isnan(row["ordered"])
                else "; not enough history to judge"
            )
            out.append(
                Prediction(
                    "spikes",
                    version.version,
                    str(order),
                    "",
                    from_ms(new["known_ms"].iloc[i]),
                    float(row["confidence"]),
                    str(row["item"]),
                    {k: _plain(row[k]) for k in ("z", "z_value", "item", "ordered", "usual")},
                    ruling.thresholds,
                    str(ruling.decision),
                    ruling.reason + detail,
                )
            )
        return out

    def _delay(self, version: ModelVersion, model: dl.DelayModel, snap: Snapshot) -> list[Prediction]:
        policy = self.policy.models.delay
        slas = dl.supported(self.kpi_policy, [s for s in model.sla_names if s in policy.slas])
        rows = dl.open_rows(snap.lines, snap.progress, snap.outcomes, slas, snap.now_ms)
        if rows.empty:
            return []
        x = dl.feature_frame(rows, snap.lines, snap.progress, snap.backlog, slas, model.region_warehouses)
        scores = model.predict(x)
        previous = {
            (p.subject, p.subject_key): p
            for p in self.log.latest(
                model="delay", subjects=sorted(set(rows["order_id"])), limit=10 * len(rows) + 10
            )
        }
        keep = []
        for i, (order, sla) in enumerate(zip(rows["order_id"], rows["sla"], strict=True)):
            before = previous.get((str(order), str(sla)))
            ruling = controls.delay(float(scores[i]), policy)
            if (
                before is not None
                and abs(before.score - scores[i]) < CHANGE
                and before.decision == ruling.decision
            ):
                continue
            keep.append(i)
        explained = dl.explain(model, x.iloc[keep]) if keep else []
        out = []
        for j, i in enumerate(keep):
            ruling = controls.delay(float(scores[i]), policy)
            out.append(
                Prediction(
                    "delay",
                    version.version,
                    str(rows["order_id"].iloc[i]),
                    str(rows["sla"].iloc[i]),
                    snap.now,
                    float(scores[i]),
                    "late" if ruling.decision is controls.Decision.AT_RISK else "on time",
                    _features(x, i),
                    ruling.thresholds,
                    str(ruling.decision),
                    ruling.reason,
                    explained[j],
                )
            )
        return out

    def _exception_cause(self, version: ModelVersion, model: Any, snap: Snapshot) -> list[Prediction]:
        policy = self.policy.models.exception_cause
        e = snap.exceptions
        if e.empty:
            return []
        subjects = [
            o if o else f"po:{po}"
            for o, po in zip(e["order_id"].astype(str), e["po"].astype(str), strict=True)
        ]
        e = e.assign(subject=subjects)
        seen = {
            (p.subject, p.subject_key)
            for p in self.log.latest(
                model="exception_cause", subjects=sorted(set(subjects)), limit=10 * len(e) + 10
            )
        }
        e = e[
            [(s, t) not in seen for s, t in zip(e["subject"], e["exception_type"].astype(str), strict=True)]
        ]
        e = e.sort_values("opened_ms").drop_duplicates(["subject", "exception_type"], keep="last")
        if e.empty:
            return []
        labels, confidence = model.predict(e)
        explained = model.explain(e)
        out = []
        for i in range(len(e)):
            ruling = controls.cause(float(confidence[i]), str(labels[i]), policy)
            row = e.iloc[i]
            out.append(
                Prediction(
                    "exception_cause",
                    version.version,
                    str(row["subject"]),
                    str(row["exception_type"]),
                    from_ms(row["opened_ms"]),
                    float(confidence[i]),
                    str(labels[i]),
                    {
                        "message": str(row["message"] or row["status_message"])[:500],
                        "error_type": str(row["error_type"]),
                        "system": str(row["system"]),
                        "stage": str(row["stage"]),
                        "span_name": str(row["span_name"]),
                        "span_id": str(row["span_id"]),
                        "team": policy.teams.get(str(labels[i]), str(labels[i])),
                    },
                    ruling.thresholds,
                    str(ruling.decision),
                    ruling.reason,
                    explained[i],
                )
            )
        return out

    def _allocation(
        self, version: ModelVersion, model: al.AllocationModel, snap: Snapshot
    ) -> list[Prediction]:
        policy = self.policy.models.allocation
        p = snap.progress
        o = snap.outcomes.reindex(p.index)
        now = snap.now_ms
        open_ = (o["status"].fillna("") == "open").to_numpy()
        priced = (p["stage_pricing"].to_numpy(dtype="float64") <= now) & ~(
            p["warehouse_ms"].to_numpy(dtype="float64") <= now
        )
        short = (p["exc_stockout"].to_numpy(dtype="float64") <= now) | (
            p["exc_backorder"].to_numpy(dtype="float64") <= now
        )
        unshipped = ~(o["ship_ms"].fillna(0).to_numpy(dtype="float64") > 0)
        waiting = open_ & (priced | (short & unshipped))
        ids = p.index[waiting]
        ids = ids[ids.isin(snap.lines.index)]
        if ids.empty:
            return []
        rows = pd.DataFrame(
            {"order_id": ids, "t_ms": now, "region": snap.lines.loc[ids, "region"].astype(str).to_numpy()}
        )
        rec = model.recommend(rows, snap.lines, snap.progress, snap.backlog).reindex(ids)
        previous = {
            x.subject: x for x in self.log.latest(model="allocation", subjects=list(ids), limit=len(ids) + 10)
        }
        out = []
        for order in ids:
            best = str(rec.at[order, "recommended"])
            confidence = float(rec.at[order, "confidence"])
            if not best or np.isnan(confidence):
                continue
            current = str(p.at[order, "warehouse"])
            value = float(snap.lines.at[order, "amount"])
            ruling = controls.allocation(confidence, value, best, current, policy)
            before = previous.get(str(order))
            if (
                before is not None
                and before.label == best
                and before.decision == ruling.decision
                and abs(before.score - confidence) < CHANGE
            ):
                continue
            out.append(
                Prediction(
                    "allocation",
                    version.version,
                    str(order),
                    "warehouse",
                    snap.now,
                    confidence,
                    best,
                    {
                        "current_warehouse": current,
                        "order_value": f"{value:.2f}",
                        "waiting": "backordered" if short[p.index.get_loc(order)] else "allocation",
                        **{f"p_{w}": f"{v:.4f}" for w, v in rec.at[order, "options"].items()},
                    },
                    ruling.thresholds,
                    str(ruling.decision),
                    ruling.reason,
                )
            )
        return out
