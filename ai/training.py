"""Training candidates: a time-based split of the store's own history, fit, measure, register.

For each model switched on in the AI policy, :func:`train` reads the history of the training window
and of the held-out window after it (:class:`~ai.history.Window`), builds features from what was
known at each prediction time, fits on the training window, measures on the held-out window against
the outcomes known at training time — next to the model's baseline and the active version's score
on the same window — and registers the result as a *candidate*. Nothing becomes active here, except
by the policy's auto-promote rule when it is switched on.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score

from ai import allocation as al
from ai import causes as ca
from ai import delay as dl
from ai import duplicates as dp
from ai import features as f
from ai import spikes as sp
from ai.catalog import CAUSES, PRIMARY_METRIC
from ai.compute import limited
from ai.history import DAY_MS, Window, exception_spans, order_lines, order_outcomes, order_progress, to_ms
from ai.policy import AiPolicy
from ai.predictions import PredictionLog, Review, ReviewAction
from ai.registry import ModelVersion, Registry
from kpis.policy import Policy
from storage import SqlFiles, Store

SQL = SqlFiles("ai.queries")

log = logging.getLogger(__name__)
ALGORITHM = {
    "delay": "HistGradientBoostingClassifier on order snapshots (SLA as a feature); baseline: SLA timer",
    "duplicates": "HistGradientBoostingClassifier on the closest earlier order of the customer with the same items",
    "spikes": "robust z-score (median/MAD of log quantity per customer and item; log value per customer)",
    "exception_cause": "TF-IDF words and word pairs + one-hot context -> multinomial logistic regression; baseline: keyword rules",
    "allocation": "HistGradientBoostingClassifier P(on time in full | order, warehouse, backlog); measured by inverse propensity weighting",
}
MAX_TRAIN_ROWS = 400_000


@dataclass
class Dataset:
    """History read once for one split."""

    window: Window
    lines: pd.DataFrame
    progress: pd.DataFrame
    outcomes: pd.DataFrame
    exceptions: pd.DataFrame
    reviews: list[Review]
    backlog: f.Backlog
    region_warehouses: dict[str, list[str]]

    def captured(self, start: datetime, end: datetime) -> pd.DataFrame:
        known = self.lines["known_ms"]
        return self.lines[(known >= to_ms(start)) & (known < to_ms(end))]

    @property
    def label_until_ms(self) -> float:
        return float(to_ms(self.window.label_until))


def load(store: Store, window: Window, *, extra_history_days: int = 0) -> Dataset:
    """The history a split needs: orders from the training window's start (and ``extra_history_days``
    before, for customers' histories) to the held-out window's end; facts known by ``label_until``."""
    start = window.train_from - timedelta(days=max(extra_history_days, 3))
    end = window.holdout_to
    lines = order_lines(store, start, end)
    progress = order_progress(store, start, end, window.label_until)
    outcomes = order_outcomes(store, start - timedelta(days=1), end + timedelta(days=1))
    exceptions = exception_spans(store, start, end, window.label_until)
    reviews = [r for r in PredictionLog(store).reviews() if r.at <= window.label_until]
    backlog = f.Backlog(progress)
    return Dataset(
        window, lines, progress, outcomes, exceptions, reviews, backlog, dl.region_warehouses(progress, lines)
    )


@dataclass
class Candidate:
    model: str
    fitted: Any
    metrics: dict[str, Any]
    card: dict[str, Any]
    features: list[str]
    train_rows: int


@dataclass
class TrainResult:
    model: str
    version: ModelVersion | None
    metrics: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False
    promotion: str = ""
    error: str = ""
    seconds: float = 0.0


def _r(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan")


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Observed rate per predicted-probability bin (the calibration chart)."""
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        mask = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if mask.sum():
            out.append(
                {
                    "bin": round(float(lo), 2),
                    "predicted": round(float(p[mask].mean()), 4),
                    "observed": round(float(y[mask].mean()), 4),
                    "count": int(mask.sum()),
                }
            )
    return out


def reference(x: pd.DataFrame, columns: list[str], bins: int = 10) -> dict[str, dict[str, list[float]]]:
    """Training distribution of numeric features (quantile bins and shares), for drift checks."""
    out = {}
    for column in columns:
        if column not in x:
            continue
        values = pd.to_numeric(x[column], errors="coerce").dropna().to_numpy(dtype="float64")
        if len(values) < bins:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
        if len(edges) < 3:
            continue
        counts = np.histogram(values, bins=edges)[0]
        out[column] = {"edges": [float(e) for e in edges], "shares": [float(c) / len(values) for c in counts]}
    return out


def _sample(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=limit, random_state=seed) if len(frame) > limit else frame


# -- the models ---------------------------------------------------------------------------------------


class DelayTrainer:
    name = "delay"

    def __init__(self, kpi_policy: Policy, policy: AiPolicy) -> None:
        self.slas = dl.supported(kpi_policy, policy.models.delay.slas)
        self.threshold = policy.models.delay.at_risk_threshold

    def rows(
        self, ds: Dataset, start: datetime, end: datetime, per_order: int | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        rows = dl.snapshots(
            ds.captured(start, end),
            ds.progress,
            ds.outcomes,
            self.slas,
            ds.label_until_ms,
            per_order=per_order,
        )
        if rows.empty:
            return rows, pd.DataFrame()
        return rows, dl.feature_frame(
            rows, ds.lines, ds.progress, ds.backlog, self.slas, ds.region_warehouses
        )

    def fit(self, ds: Dataset, seed: int) -> tuple[Any, int, pd.DataFrame]:
        rows, x = self.rows(ds, ds.window.train_from, ds.window.train_to, per_order=2)
        if rows.empty or rows["label"].nunique() < 2:
            raise ValueError("delay: the training window has no outcomes of both kinds (late and on time)")
        keep = _sample(pd.DataFrame({"i": np.arange(len(rows))}), MAX_TRAIN_ROWS, seed)["i"].to_numpy()
        model = dl.fit(
            x.iloc[keep].reset_index(drop=True),
            rows["label"].to_numpy()[keep],
            [s.name for s in self.slas],
            ds.region_warehouses,
            seed,
        )
        return model, len(keep), x

    def evaluate(self, model: Any, ds: Dataset) -> dict[str, Any]:
        rows, x = self.rows(ds, ds.window.holdout_from, ds.window.holdout_to, per_order=None)
        if rows.empty:
            return {"rows": 0}
        y = rows["label"].to_numpy()
        p = model.predict(x)
        b = model.baseline_predict(x)
        metrics: dict[str, Any] = {
            "auc": _r(_auc(y, p)),
            "brier": _r(brier_score_loss(y, p)),
            "baseline_auc": _r(_auc(y, b)),
            "baseline_brier": _r(brier_score_loss(y, b)),
            "rows": len(y),
            "orders": int(rows["order_id"].nunique()),
            "late_rate": _r(y.mean()),
            "at_risk_precision": _r(precision_score(y, p >= self.threshold, zero_division=0)),
            "at_risk_recall": _r(recall_score(y, p >= self.threshold, zero_division=0)),
            "calibration": calibration(y, p),
            "by_sla": {},
        }
        for sla in self.slas:
            mask = rows["sla"].to_numpy() == sla.name
            if mask.any():
                metrics["by_sla"][sla.name] = {
                    "auc": _r(_auc(y[mask], p[mask])),
                    "baseline_auc": _r(_auc(y[mask], b[mask])),
                    "rows": int(mask.sum()),
                }
        return metrics

    def card(self, x: pd.DataFrame) -> dict[str, Any]:
        return {
            "what": "The probability that an open order misses each SLA below, from what the tower knows now; updated as hops arrive.",
            "slas": [s.name for s in self.slas],
            "trained_on": "Snapshots of orders captured in the training window: the order as it stood when each stage first became known, while the SLA was open; label = the SLA's end edge came after its due time (KPI engine's order facts).",
            "features": "order value, lines, quantity, product families, channel, customer and credit tier, priority, region; time elapsed and left, weekday and hour; stage reached, exceptions and manual touches so far; the warehouse (once allocated) and the backlog of the region's warehouses",
            "not_used": "anything known after the prediction time (later hops, the outcome, exception resolutions)",
            "baseline": "today's timer: the share of the SLA's target already elapsed, calibrated",
            "limitations": "Wall-clock SLAs starting at capture.start only. Orders cancelled are left out. Risk of orders unlike the training window (new channels, warehouses) falls back to typical values.",
            "reference": reference(
                x, ["elapsed_frac", "log_amount", "lines", "backlog", "hours_since_hop", "target_h"]
            ),
        }


class DuplicatesTrainer:
    name = "duplicates"

    def __init__(self, policy: AiPolicy) -> None:
        self.policy = policy.models.duplicates

    def confirmed(self, ds: Dataset) -> tuple[set[str], set[str]]:
        """Orders confirmed as duplicates (a later duplicate dispute, a reviewer's confirmation) and
        those a reviewer dismissed, as known at training time."""
        e = ds.exceptions
        disputed = e[
            (e["exception_type"] == "duplicate")
            & (~e["stage"].isin(["capture", "validation"]))
            & (e["opened_ms"] <= ds.label_until_ms)
        ]
        yes = {str(o) for o in disputed["order_id"] if o}
        no: set[str] = set()
        for review in ds.reviews:
            if review.model != self.name:
                continue
            (yes if review.action is ReviewAction.CONFIRM else no).add(review.subject)
        return yes - no, no

    def data(
        self, ds: Dataset, start: datetime, end: datetime
    ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
        new = ds.captured(start, end)
        matched = dp.match(new, ds.lines, self.policy.window_hours)
        x = dp.feature_frame(new, matched)
        yes, _ = self.confirmed(ds)
        # the dispute lands on the second submission; when that one reached the tower first, the
        # pair is found from the original, whose closest match is then the disputed order itself
        # (same lines, same quantities) - an unrelated order merely following a disputed one is not
        same = (matched["same_lines"] == 1).to_numpy()
        y = np.array(
            [
                o in yes or (c in yes and s)
                for o, c, s in zip(new.index, matched["candidate"], same, strict=True)
            ],
            dtype="float64",
        )
        return x, y, matched

    def fit(self, ds: Dataset, seed: int) -> tuple[Any, int, pd.DataFrame]:
        x, y, _ = self.data(ds, ds.window.train_from, ds.window.train_to)
        if y.sum() < 2:
            raise ValueError("duplicates: fewer than 2 confirmed duplicates in the training window")
        return dp.fit(x, y, self.policy.window_hours, seed), len(x), x

    def evaluate(self, model: Any, ds: Dataset) -> dict[str, Any]:
        x, y, _ = self.data(ds, ds.window.holdout_from, ds.window.holdout_to)
        if x.empty:
            return {"rows": 0}
        p = model.predict(x)
        review = p >= self.policy.review_threshold
        flag = p >= self.policy.flag_threshold
        return {
            "precision": _r(precision_score(y, review, zero_division=0)),
            "recall": _r(recall_score(y, review, zero_division=0)),
            "f1": _r(f1_score(y, review, zero_division=0)),
            "flag_precision": _r(precision_score(y, flag, zero_division=0)),
            "flag_recall": _r(recall_score(y, flag, zero_division=0)),
            "auc": _r(_auc(y, p)),
            "orders": len(y),
            "confirmed": int(y.sum()),
            "flagged": int(flag.sum()),
            "needs_review": int((review & ~flag).sum()),
        }

    def card(self, x: pd.DataFrame) -> dict[str, Any]:
        return {
            "what": "Flags an order that repeats an earlier one of the same customer (another channel or file, the PO re-keyed) before it ships twice.",
            "trained_on": "Orders of the training window; confirmed duplicates are orders whose second invoice was later disputed as a duplicate, and reviewers' confirmations in the tower (dismissals count as not duplicate).",
            "features": "closest earlier order of the customer with the same items within the window: same lines and quantities, value difference, PO equal / one extends the other / fuzzy ratio (normalised), hours between, channel change; number of such orders",
            "not_used": "the dispute itself and anything after the order arrived",
            "limitations": "Compares orders with the same set of items; a resubmission that adds or drops lines is not found.",
            "reference": reference(x, ["n_candidates", "gap_h", "po_ratio", "log_amount", "lines"]),
        }


class SpikesTrainer:
    name = "spikes"

    def __init__(self, policy: AiPolicy) -> None:
        self.policy = policy.models.spikes

    def scored(self, model: sp.SpikeModel, ds: Dataset, start: datetime, end: datetime) -> pd.DataFrame:
        new = ds.captured(start, end)
        history = ds.captured(start - timedelta(days=model.history_days), start)
        return sp.score(model, new, sp.baseline(history))

    def fit(self, ds: Dataset, seed: int) -> tuple[Any, int, pd.DataFrame]:
        model = sp.SpikeModel(min_history=self.policy.min_history, history_days=self.policy.history_days)
        scored = self.scored(model, ds, ds.window.train_from, ds.window.train_to)
        return model, len(scored), scored

    def evaluate(self, model: Any, ds: Dataset) -> dict[str, Any]:
        scored = self.scored(model, ds, ds.window.holdout_from, ds.window.holdout_to)
        conf = scored["confidence"].to_numpy(dtype="float64")
        metrics: dict[str, Any] = {
            "orders": len(scored),
            "flag_rate": _r(float((conf >= self.policy.flag_threshold).mean())) if len(conf) else None,
            "review_rate": _r(float((conf >= self.policy.review_threshold).mean())) if len(conf) else None,
            "judged_share": _r(float(scored["z"].notna().mean())) if len(conf) else None,
        }
        reviewed = {r.subject: r.action for r in ds.reviews if r.model == self.name}
        judged = [(c, reviewed[o]) for o, c in zip(scored.index, conf, strict=True) if o in reviewed]
        if judged:
            y = np.array([a is ReviewAction.CONFIRM for _, a in judged], dtype=float)
            p = np.array([c >= self.policy.review_threshold for c, _ in judged])
            metrics["precision"] = _r(precision_score(y, p, zero_division=0))
            metrics["reviewed"] = len(judged)
        return metrics

    def card(self, x: pd.DataFrame) -> dict[str, Any]:
        return {
            "what": "Flags an order whose quantity of an item (or whose value) is far above the customer's own history.",
            "trained_on": "Nothing is fitted: the customer's normal is recomputed from their last history_days of orders before the orders judged; the mapping from z-score to confidence is fixed (z0, scale).",
            "features": "per line: log quantity against the median and MAD of the customer's past lines of that item; per order: log value against the customer's past orders (when no item has enough history)",
            "limitations": "Items ordered fewer than min_history times before are judged by the order's value only. New customers are not judged.",
            "parameters": {"z0": sp.SpikeModel.z0, "scale": sp.SpikeModel.scale, "min_sigma": sp.MIN_SIGMA},
            "reference": reference(x, ["z", "confidence"]),
        }


class CauseTrainer:
    name = "exception_cause"

    def __init__(self, policy: AiPolicy) -> None:
        self.policy = policy.models.exception_cause

    def labelled(self, ds: Dataset, start: datetime, end: datetime) -> tuple[pd.DataFrame, np.ndarray]:
        e = ds.exceptions
        e = e[(e["opened_ms"] >= to_ms(start)) & (e["opened_ms"] < to_ms(end))]
        labels = e["recorded_cause"].astype(str).to_numpy(dtype=object)
        overrides = {
            (r.subject, r.subject_key): r.value
            for r in sorted((r for r in ds.reviews if r.model == self.name), key=lambda r: r.at)
            if r.action is ReviewAction.OVERRIDE
        }
        if overrides:
            keys = zip(e["order_id"].astype(str), e["exception_type"].astype(str), strict=True)
            labels = np.array(
                [overrides.get(k, label) for k, label in zip(keys, labels, strict=True)], dtype=object
            )
        known = labels != ""
        return e[known], labels[known]

    def fit(self, ds: Dataset, seed: int) -> tuple[Any, int, pd.DataFrame]:
        frame, labels = self.labelled(ds, ds.window.train_from, ds.window.train_to)
        if len(set(labels.tolist())) < 2:
            raise ValueError("exception_cause: fewer than 2 root causes recorded in the training window")
        return ca.fit(frame, labels, seed), len(frame), frame

    def evaluate(self, model: Any, ds: Dataset) -> dict[str, Any]:
        frame, labels = self.labelled(ds, ds.window.holdout_from, ds.window.holdout_to)
        if frame.empty:
            return {"rows": 0}
        predicted, confidence = model.predict(frame)
        baseline = ca.keyword_baseline(frame)
        routed = confidence >= self.policy.route_threshold
        return {
            "macro_f1": _r(f1_score(labels, predicted, average="macro")),
            "accuracy": _r(float((labels == predicted).mean())),
            "baseline_macro_f1": _r(f1_score(labels, baseline, average="macro")),
            "baseline_accuracy": _r(float((labels == baseline).mean())),
            "routed_share": _r(float(routed.mean())),
            "routed_accuracy": _r(float((labels[routed] == predicted[routed]).mean()))
            if routed.any()
            else None,
            "rows": len(labels),
            "per_cause_f1": {
                str(c): _r(v)
                for c, v in zip(
                    sorted(set(labels.tolist())),
                    f1_score(labels, predicted, average=None, labels=sorted(set(labels.tolist()))),
                    strict=True,
                )
            },
        }

    def card(self, x: pd.DataFrame) -> dict[str, Any]:
        return {
            "what": "The root cause of an exception as it opens, so it reaches the right team (policy: models.exception_cause.teams).",
            "trained_on": "Exceptions opened in the training window, labelled with the reason code recorded when they were resolved (order.exception.root_cause); a person's override in the tower replaces the code.",
            "features": "what the system said (order.exception.message, status message, error.type) as words and word pairs; exception type, system kind, stage, span name",
            "not_used": "the resolution, its reason code and anything after the exception opened",
            "baseline": "keyword rules (ai/causes.py KEYWORD_RULES) with a default cause per exception type",
            "limitations": "Reason codes are recorded by people and systems and are sometimes wrong; the model learns their mistakes too. Messages in other languages are unknown words.",
            "classes": CAUSES,
        }


class AllocationTrainer:
    name = "allocation"

    def __init__(self, kpi_policy: Policy, policy: AiPolicy) -> None:
        self.sla = kpi_policy.sla(kpi_policy.perfect_order.on_time_sla)
        self.policy = policy.models.allocation

    def data(self, ds: Dataset, start: datetime, end: datetime) -> tuple[pd.DataFrame, np.ndarray]:
        orders = ds.captured(start, end)
        rows = al.decisions(orders, ds.progress)
        y = al.on_time_in_full(rows, ds.outcomes, ds.progress, self.sla, ds.label_until_ms)
        return rows, y

    def fit(self, ds: Dataset, seed: int) -> tuple[Any, int, pd.DataFrame]:
        rows, y = self.data(ds, ds.window.train_from, ds.window.train_to)
        known = ~np.isnan(y)
        rows, y = rows[known].reset_index(drop=True), y[known]
        if len(set(y.tolist())) < 2:
            raise ValueError("allocation: the training window has no outcomes of both kinds")
        x = al.feature_frame(
            rows,
            rows["chosen"].to_numpy(dtype=object),
            ds.lines,
            ds.progress,
            ds.backlog,
            ds.region_warehouses,
        )
        return al.fit(x, y, rows, ds.region_warehouses, seed), len(x), x

    def evaluate(self, model: Any, ds: Dataset) -> dict[str, Any]:
        rows, y = self.data(ds, ds.window.holdout_from, ds.window.holdout_to)
        if rows.empty:
            return {"rows": 0}
        rec = model.recommend(rows, ds.lines, ds.progress, ds.backlog).reindex(rows["order_id"])
        value = al.policy_value(model, rows, y, rec["recommended"].to_numpy(dtype=object))
        known = ~np.isnan(y)
        x = al.feature_frame(
            rows,
            rows["chosen"].to_numpy(dtype=object),
            ds.lines,
            ds.progress,
            ds.backlog,
            ds.region_warehouses,
        )
        value["auc"] = _r(_auc(y[known], model.predict(x)[known]))
        confidence = rec["confidence"].to_numpy(dtype="float64")
        value["shown_share"] = _r(float((confidence >= self.policy.min_confidence).mean()))
        return value

    def card(self, x: pd.DataFrame) -> dict[str, Any]:
        return {
            "what": "For an order waiting at allocation or backordered, the warehouse of its region most likely to ship it on time and in full. Shown only above the policy's confidence and under its order-value limit; the tower never changes the ERP's allocation.",
            "trained_on": "The ERP's allocations in the training window and whether each order then shipped within the on-time SLA with no stock-out or backorder.",
            "features": "order value, lines, product families, segment; the candidate warehouse, whether it is the region's primary, its backlog at decision time; weekday and hour; exceptions so far",
            "evaluation": "inverse propensity weighting: on-time-in-full rate had the recommendations been followed, from the orders where the ERP chose the recommended warehouse, weighted by 1 / P(ERP chooses it)",
            "limitations": "Only warehouses the ERP has used for the region are candidates. Stock levels are not read; the model learns which warehouses run short of which families.",
            "reference": reference(x, ["backlog", "log_amount", "lines"]),
        }


def trainers(kpi_policy: Policy, policy: AiPolicy) -> dict[str, Any]:
    return {
        "duplicates": DuplicatesTrainer(policy),
        "spikes": SpikesTrainer(policy),
        "delay": DelayTrainer(kpi_policy, policy),
        "exception_cause": CauseTrainer(policy),
        "allocation": AllocationTrainer(kpi_policy, policy),
    }


def train(
    store: Store,
    kpi_policy: Policy,
    policy: AiPolicy,
    *,
    as_of: datetime | None = None,
    models: list[str] | None = None,
    actor: str = "tower ai train",
    threads: int = 1,
    seed: int = 0,
    dataset: Dataset | None = None,
) -> list[TrainResult]:
    """Train a candidate of each chosen model that the policy switches on; register it (and apply
    the auto-promote rule when the policy enables it)."""
    as_of = as_of or datetime.now(UTC)
    t = policy.training
    window = Window.ending(as_of, t.history_days, t.holdout_days, t.label_maturity_days)
    chosen = [m for m in (models or policy.enabled_models()) if policy.enabled(m)]
    registry = Registry(store)
    results = []
    if dataset is None:
        dataset = load(store, window, extra_history_days=policy.models.spikes.history_days)
    for name, trainer in trainers(kpi_policy, policy).items():
        if name not in chosen:
            continue
        began = time.perf_counter()
        try:
            with limited(threads):
                fitted, rows, x = trainer.fit(dataset, seed)
                metrics = trainer.evaluate(fitted, dataset)
                active = registry.active(name)
                if active is not None:
                    try:
                        incumbent = trainer.evaluate(registry.load(name, active.version), dataset)
                        metrics["active_version"] = active.version
                        metrics[f"active_{PRIMARY_METRIC[name]}"] = incumbent.get(PRIMARY_METRIC[name])
                    except Exception as exc:  # the old version may not read today's data
                        log.warning(
                            "could not score active %s v%s on the new window: %s", name, active.version, exc
                        )
            card = trainer.card(x)
            card["algorithm"] = ALGORITHM[name]
            card["primary_metric"] = PRIMARY_METRIC[name]
            version = registry.register(
                name,
                fitted,
                algorithm=ALGORITHM[name],
                trained_by=actor,
                window=(window.train_from, window.train_to, window.holdout_from, window.holdout_to),
                train_rows=rows,
                metrics=metrics,
                card=card,
                features=[c for c in x.columns if not str(c).startswith("_")],
            )
            result = TrainResult(name, version, metrics, seconds=time.perf_counter() - began)
            if t.auto_promote.enabled:
                promoted = registry.auto_promote(name, version.version, t.auto_promote, PRIMARY_METRIC[name])
                result.promoted = promoted is not None
                result.promotion = registry.events(name, limit=1)[0].reason
            results.append(result)
        except Exception as exc:
            log.exception("training %s failed", name)
            results.append(
                TrainResult(
                    name, None, error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - began
                )
            )
    return results


def due(store: Store, policy: AiPolicy, now: datetime) -> bool:
    """Whether the scheduled candidate training is due (every ``retrain_every_days``)."""
    every = policy.training.retrain_every_days
    if every <= 0:
        return False
    last = store.scalar(SQL["last_training"])
    if not isinstance(last, datetime) or last.year <= 1970:
        return True
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
    return now - last >= timedelta(days=every)


__all__ = ["DAY_MS", "PRIMARY_METRIC", "Dataset", "TrainResult", "due", "load", "train"]
