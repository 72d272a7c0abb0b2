"""``tower ai evaluate``: the four use cases measured on simulated history, against the simulator's
ground truth (which the models never see).

A fresh embedded store gets ``days`` of simulated history; the KPI jobs run; candidates are trained
exactly as ``tower ai train`` trains them (time-based split: the held-out window is the last week
whose outcomes are mature); then each candidate is scored on the held-out window against the ground
truth kept apart by the simulator: resubmitted orders, spikes, exceptions' true root causes. Delay
and allocation outcomes are the store's own (they are observable). Scoring speed is measured on the
orders still open at the end of the history.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_score, recall_score

from ai import causes as ca
from ai import delay as dl
from ai import duplicates as dp
from ai import spikes as sp
from ai.compute import limited
from ai.history import Window, to_ms
from ai.policy import AiPolicy, Training, load_ai_policy
from ai.registry import Registry
from ai.scoring import Scorer, snapshot
from ai.training import Dataset, load, train
from kpis.jobs import KpiEngine
from kpis.policy import Policy, load_policy
from storage import StorageSettings, Store, open_store
from storage.migrate import migrate
from tracing.conventions import KEY_ROLES
from tracing.simulator import GroundTruth, Simulator, SimulatorConfig
from tracing.sinks import write_to_store

HOLDOUT_DAYS = 7
MATURITY_DAYS = 7


def customers_for(orders: int) -> int:
    """A customer base that grows with the volume (about one order per customer and working day
    over five weeks), as a distributor's does; the simulator's default (120) suits small histories."""
    return max(120, orders // 60)


def _r(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def evaluate(
    *,
    orders: int = 30_000,
    days: int = 35,
    seed: int = 7,
    end: datetime | None = None,
    data_dir: Path | None = None,
    threads: int = 1,
    progress: Any = None,
) -> dict[str, Any]:
    """Simulate, train, measure; returns the JSON ``tower ai evaluate`` prints."""
    say = progress or (lambda _message: None)
    if days < HOLDOUT_DAYS + MATURITY_DAYS + 7:
        raise ValueError(
            f"days must be at least {HOLDOUT_DAYS + MATURITY_DAYS + 7} (training, held-out and maturity weeks)"
        )
    end = (end or datetime.now(UTC)).replace(microsecond=0)
    work = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="tower-ai-eval-"))
    settings = StorageSettings(data_dir=work, ttl_days=dict.fromkeys(StorageSettings().ttl_days, 0))
    store = open_store(settings, database="ai_evaluate", command="tower ai evaluate")
    try:
        store.drop_database()
        migrate(store, KEY_ROLES)
        truth = GroundTruth()
        config = SimulatorConfig(
            orders=orders, days=days, seed=seed, end=end, customers=customers_for(orders)
        )
        began = time.perf_counter()
        # what the store would hold at ``end``: spans that have ended (in-flight orders stay open)
        spans = write_to_store(store, Simulator(config, truth=truth).backfill())
        simulate_s = time.perf_counter() - began
        say(f"simulated {orders:,} orders ({spans:,} spans) in {simulate_s:.0f}s")
        kpi_policy = load_policy(None)
        began = time.perf_counter()
        KpiEngine(store, kpi_policy).recompute()
        say(f"KPI jobs in {time.perf_counter() - began:.0f}s")
        base = load_ai_policy(None)
        policy = AiPolicy(
            models=base.models,
            training=Training(
                history_days=days - HOLDOUT_DAYS - MATURITY_DAYS - 1,
                holdout_days=HOLDOUT_DAYS,
                label_maturity_days=MATURITY_DAYS,
                retrain_every_days=0,
            ),
            monitoring=base.monitoring,
        )
        result = measure(store, kpi_policy, policy, truth, end, threads=threads, say=say)
        result["simulation"] = {
            "orders": orders,
            "days": days,
            "seed": seed,
            "end": end.isoformat(),
            "spans": spans,
            "simulate_seconds": round(simulate_s, 1),
        }
        return result
    finally:
        store.close()


def measure(
    store: Store,
    kpi_policy: Policy,
    policy: AiPolicy,
    truth: GroundTruth,
    end: datetime,
    *,
    threads: int = 1,
    say: Any = None,
) -> dict[str, Any]:
    """Train candidates at ``end`` and score them on the held-out window against ``truth``."""
    say = say or (lambda _message: None)
    t = policy.training
    window = Window.ending(end, t.history_days, t.holdout_days, t.label_maturity_days)
    began = time.perf_counter()
    dataset = load(store, window, extra_history_days=policy.models.spikes.history_days)
    load_s = time.perf_counter() - began
    results = train(
        store, kpi_policy, policy, as_of=end, actor="tower ai evaluate", threads=threads, dataset=dataset
    )
    train_s = time.perf_counter() - began
    say(f"trained {len(results)} candidates in {train_s:.0f}s")
    registry = Registry(store)
    fitted = {r.model: registry.load(r.model, r.version.version) for r in results if r.version is not None}
    errors = {r.model: r.error for r in results if r.error}
    metrics = {r.model: r.metrics for r in results}
    out: dict[str, Any] = {}
    delay = metrics.get("delay", {})
    out["delay"] = {
        k: delay.get(k)
        for k in ("auc", "brier", "baseline_auc", "baseline_brier", "rows", "orders", "late_rate", "by_sla")
    }
    with limited(threads):
        if "duplicates" in fitted:
            out["duplicates"] = _duplicates(fitted["duplicates"], dataset, policy, truth)
        if "spikes" in fitted:
            out["spikes"] = _spikes(fitted["spikes"], dataset, policy, truth)
        if "exception_cause" in fitted:
            out["classification"] = _classification(fitted["exception_cause"], dataset, truth)
    alloc = metrics.get("allocation", {})
    out["allocation"] = {
        k: alloc.get(k)
        for k in ("on_time_in_full_rate", "baseline_rate", "orders", "orders_matching_recommendation", "auc")
    }
    out["allocation"]["expected_stockout_rate"] = _stockouts(
        fitted.get("allocation"), dataset, truth, threads
    )
    out.update(_scoring_speed(store, kpi_policy, policy, end, threads))
    orders_trained = len(dataset.lines)
    out["train_seconds"] = round(train_s, 1)
    out["train_load_seconds"] = round(load_s, 1)
    out["train_orders"] = orders_trained
    out["train_seconds_by_model"] = {r.model: round(r.seconds, 1) for r in results}
    out["train_seconds_1m_orders"] = round(train_s, 1) if orders_trained >= 1_000_000 else None
    out["window"] = {
        "train_from": window.train_from.isoformat(),
        "train_to": window.train_to.isoformat(),
        "holdout_from": window.holdout_from.isoformat(),
        "holdout_to": window.holdout_to.isoformat(),
        "labels_known_until": window.label_until.isoformat(),
    }
    if errors:
        out["errors"] = errors
    return out


def _holdout(ds: Dataset) -> pd.DataFrame:
    return ds.captured(ds.window.holdout_from, ds.window.holdout_to)


def _duplicates(
    model: dp.DuplicateModel, ds: Dataset, policy: AiPolicy, truth: GroundTruth
) -> dict[str, Any]:
    """Pair level: a flag on an order naming an earlier order is right when both are submissions of
    the same order (an order re-submitted twice makes a group of three); a true pair is found when
    either of its orders is flagged naming another order of its group."""
    new = _holdout(ds)
    matched = dp.match(new, ds.lines, model.window_hours)
    scores = model.predict(dp.feature_frame(new, matched))
    group: dict[str, str] = {}

    def root(order: str) -> str:
        while group.get(order, order) != order:
            order = group[order]
        return order

    for order, t in truth.orders.items():
        if t.duplicate_of:
            group[root(order)] = root(t.duplicate_of)
    pairs = {
        frozenset((o, t.duplicate_of))
        for o, t in truth.orders.items()
        if t.duplicate_of and (o in new.index or t.duplicate_of in new.index)
    }
    out: dict[str, Any] = {"true_pairs": len(pairs), "orders": len(new)}
    for name, threshold in (
        ("", policy.models.duplicates.flag_threshold),
        ("review_", policy.models.duplicates.review_threshold),
    ):
        flagged = [
            (o, c) for o, c, s in zip(new.index, matched["candidate"], scores, strict=True) if s >= threshold
        ]
        right = [bool(c) and root(o) == root(c) for o, c in flagged]
        hit_groups = {root(o) for (o, c), ok in zip(flagged, right, strict=True) if ok}
        found = [p for p in pairs if root(next(iter(p))) in hit_groups]
        out[f"{name}precision"] = _r(float(np.mean(right))) if flagged else None
        out[f"{name}recall"] = _r(len(found) / len(pairs)) if pairs else None
        out[f"{name}flagged"] = len(flagged)
    return out


def _spikes(model: sp.SpikeModel, ds: Dataset, policy: AiPolicy, truth: GroundTruth) -> dict[str, Any]:
    new = _holdout(ds)
    history = ds.captured(ds.window.holdout_from - timedelta(days=model.history_days), ds.window.holdout_from)
    scored = sp.score(model, new, sp.baseline(history))
    y = np.array([bool(truth.orders.get(o) and truth.orders[o].spike) for o in new.index])
    conf = scored["confidence"].to_numpy(dtype="float64")
    out: dict[str, Any] = {"spikes": int(y.sum()), "orders": len(y)}
    for name, threshold in (
        ("", policy.models.spikes.flag_threshold),
        ("review_", policy.models.spikes.review_threshold),
    ):
        hit = conf >= threshold
        out[f"{name}precision"] = _r(precision_score(y, hit, zero_division=0)) if hit.any() else None
        out[f"{name}recall"] = _r(recall_score(y, hit, zero_division=0)) if y.any() else None
    return out


def _classification(model: ca.CauseModel, ds: Dataset, truth: GroundTruth) -> dict[str, Any]:
    e = ds.exceptions
    e = e[(e["opened_ms"] >= to_ms(ds.window.holdout_from)) & (e["opened_ms"] < to_ms(ds.window.holdout_to))]
    labels = np.array(
        [truth.exceptions[s].root_cause if s in truth.exceptions else "" for s in e["span_id"]], dtype=object
    )
    known = labels != ""
    e, labels = e[known], labels[known]
    if e.empty:
        return {"exceptions": 0}
    predicted, _ = model.predict(e)
    baseline = ca.keyword_baseline(e)
    recorded = e["recorded_cause"].astype(str).to_numpy(dtype=object)
    has_code = recorded != ""
    return {
        "macro_f1": _r(f1_score(labels, predicted, average="macro")),
        "baseline_macro_f1": _r(f1_score(labels, baseline, average="macro")),
        "accuracy": _r(float((labels == predicted).mean())),
        "baseline_accuracy": _r(float((labels == baseline).mean())),
        "exceptions": len(labels),
        "recorded_codes_right": _r(float((recorded[has_code] == labels[has_code]).mean()))
        if has_code.any()
        else None,
    }


def _stockouts(model: Any, ds: Dataset, truth: GroundTruth, threads: int) -> dict[str, Any] | None:
    """The simulator's own P(stock-out) at the recommended warehouse against the one the ERP chose."""
    if model is None:
        return None
    from ai import allocation as al

    rows = al.decisions(_holdout(ds), ds.progress)
    with limited(threads):
        rec = model.recommend(rows, ds.lines, ds.progress, ds.backlog)
    pairs = [
        (truth.orders[o].stockout_odds.get(w), truth.orders[o].stockout_odds.get(truth.orders[o].warehouse))
        for o, w in zip(rec.index, rec["recommended"], strict=True)
        if o in truth.orders and truth.orders[o].stockout_odds
    ]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not pairs:
        return None
    return {
        "recommended": _r(float(np.mean([a for a, _ in pairs]))),
        "chosen": _r(float(np.mean([b for _, b in pairs]))),
        "orders": len(pairs),
    }


def _scoring_speed(
    store: Store, kpi_policy: Policy, policy: AiPolicy, end: datetime, threads: int
) -> dict[str, Any]:
    """Time to score 1,000 open orders with every model (features + prediction, data in memory), and
    to read the snapshot they are scored from."""
    registry = Registry(store)
    for name in policy.enabled_models():
        versions = [v for v in registry.versions(name) if v.status == "candidate"]
        if versions and registry.active(name) is None:
            registry.approve(
                name, versions[0].version, "tower ai evaluate", "evaluation run: score the candidate"
            )
    scorer = Scorer(store, kpi_policy, policy, threads=threads)
    models = scorer.active()
    began = time.perf_counter()
    snap = snapshot(store, end, history_days=policy.models.spikes.history_days)
    read_s = time.perf_counter() - began
    open_ids = snap.outcomes.index[snap.outcomes["status"] == "open"]
    open_ids = open_ids[open_ids.isin(snap.lines.index)][:1000]
    n = len(open_ids)
    if not n:
        return {"score_ms_per_1000_orders": None}
    lines = snap.lines
    subset = lines.loc[open_ids]
    timings: dict[str, float] = {}
    with limited(threads):
        if "delay" in models:
            _, model = models["delay"]
            slas = dl.supported(kpi_policy, model.sla_names)
            began = time.perf_counter()
            rows = dl.open_rows(subset, snap.progress, snap.outcomes, slas, snap.now_ms)
            model.predict(
                dl.feature_frame(rows, lines, snap.progress, snap.backlog, slas, model.region_warehouses)
            )
            timings["delay"] = time.perf_counter() - began
        if "duplicates" in models:
            _, model = models["duplicates"]
            began = time.perf_counter()
            model.predict(dp.feature_frame(subset, dp.match(subset, lines, model.window_hours)))
            timings["duplicates"] = time.perf_counter() - began
        if "spikes" in models:
            _, model = models["spikes"]
            began = time.perf_counter()
            history = lines[~lines.index.isin(open_ids)]
            sp.score(model, subset, sp.baseline(history, sorted(set(subset["customer"].astype(str)))))
            timings["spikes"] = time.perf_counter() - began
        if "allocation" in models:
            _, model = models["allocation"]
            rows = pd.DataFrame(
                {"order_id": open_ids, "t_ms": snap.now_ms, "region": subset["region"].astype(str).to_numpy()}
            )
            began = time.perf_counter()
            model.recommend(rows, lines, snap.progress, snap.backlog)
            timings["allocation"] = time.perf_counter() - began
    total = sum(timings.values()) * 1000 * 1000 / n
    return {
        "score_ms_per_1000_orders": round(total, 1),
        "score_ms_per_1000_orders_by_model": {k: round(v * 1000 * 1000 / n, 1) for k, v in timings.items()},
        "score_orders_measured": n,
        "score_snapshot_read_ms": round(read_s * 1000, 1),
    }


__all__ = ["evaluate", "measure"]
