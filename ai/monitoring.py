"""Monitoring of the active models once outcomes are known: live accuracy, calibration, feature drift.

Run by the scheduler (and ``tower ai monitor``). For the predictions of the last ``window_days``:

* delay: live AUC, Brier score and a calibration table against the outcomes now known;
* exception_cause: accuracy and macro-F1 against the reason codes recorded at resolution (or a
  person's override);
* duplicates and spikes: precision of what reached a person, from confirmations and dismissals
  (and, for duplicates, later disputes);
* every model: the population stability index (PSI) of each numeric feature against the training
  window's distribution kept in the model card (``reference``); ``max_psi`` is the largest.

Results go to ``ai_monitoring``; the alert signals ``ai_accuracy`` and ``ai_drift`` read them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score

from ai import delay as dl
from ai.catalog import Measurement
from ai.history import exception_spans, order_outcomes, to_ms
from ai.policy import AiPolicy
from ai.predictions import Prediction, PredictionLog, ReviewAction
from ai.registry import Registry
from ai.training import calibration
from kpis.policy import Policy
from storage import SqlFiles, Store
from storage.times import naive

SQL = SqlFiles("ai.queries")


def psi(reference: dict[str, list[float]], values: np.ndarray) -> float:
    """Population stability index of ``values`` against the reference bins (edges, shares)."""
    edges = np.asarray(reference["edges"], dtype="float64")
    expected = np.asarray(reference["shares"], dtype="float64")
    clipped = np.clip(values, edges[0], edges[-1])
    actual = np.histogram(clipped, bins=edges)[0] / max(len(values), 1)
    expected = np.clip(expected, 1e-4, None)
    actual = np.clip(actual, 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift(card: dict[str, Any], predictions: list[Prediction], min_samples: int) -> Measurement | None:
    reference = card.get("reference") or {}
    per_feature: dict[str, float] = {}
    for name, bins in reference.items():
        values = []
        for p in predictions:
            raw = p.features.get(name, "")
            try:
                values.append(float(raw))
            except ValueError:
                continue
        values = [v for v in values if np.isfinite(v)]
        if len(values) >= min_samples:
            per_feature[name] = round(psi(bins, np.asarray(values)), 4)
    if not per_feature:
        return None
    return Measurement("", 0, "max_psi", max(per_feature.values()), len(predictions), {"psi": per_feature})


def _labelled_delay(
    store: Store, kpi_policy: Policy, predictions: list[Prediction], now: datetime
) -> tuple[np.ndarray, np.ndarray]:
    orders = sorted({p.subject for p in predictions})
    outcomes = order_outcomes(store, now - timedelta(days=120), now + timedelta(days=1), orders=orders)
    now_ms = to_ms(now)
    ys, ps = [], []
    for p in predictions:
        if p.subject not in outcomes.index:
            continue
        o = outcomes.loc[p.subject]
        if o["status"] == "cancelled":
            continue
        try:
            sla = kpi_policy.sla(p.subject_key)
        except KeyError:
            continue
        segment = {
            "channel": o["f_channel"],
            "priority": o["f_priority"],
            "customer_tier": o["f_customer_tier"],
            "region": o["f_region"],
            "warehouse": o["f_warehouse"],
        }
        due = o["capture_ms"] + dl.target_s(sla, segment) * 1000
        end = o[f"{sla.end.stage}_ms"]
        if 0 < end <= now_ms:
            ys.append(float(end > due))
        elif now_ms > due:
            ys.append(1.0)
        else:
            continue
        ps.append(p.score)
    return np.asarray(ys), np.asarray(ps)


def measure(
    store: Store, kpi_policy: Policy, policy: AiPolicy, now: datetime | None = None
) -> list[Measurement]:
    """Live metrics and drift of each active model; written to ``ai_monitoring`` and returned."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=policy.monitoring.window_days)
    registry = Registry(store)
    log = PredictionLog(store)
    out: list[Measurement] = []
    for name in policy.enabled_models():
        active = registry.active(name)
        if active is None:
            continue
        predictions = [
            p for p in log.latest(model=name, since=since, limit=200_000) if p.version == active.version
        ]
        found: list[Measurement] = []
        if name == "delay" and predictions:
            y, p = _labelled_delay(store, kpi_policy, predictions, now)
            if len(y) >= policy.monitoring.min_samples and len(set(y.tolist())) == 2:
                found.append(
                    Measurement(
                        name,
                        active.version,
                        "live_auc",
                        float(roc_auc_score(y, p)),
                        len(y),
                        {"calibration": calibration(y, p)},
                    )
                )
                found.append(
                    Measurement(name, active.version, "live_brier", float(brier_score_loss(y, p)), len(y))
                )
        if name == "exception_cause" and predictions:
            found.extend(_causes(store, log, active.version, predictions, now, policy))
        if name in ("duplicates", "spikes") and predictions:
            found.extend(_reviewed(store, log, name, active.version, predictions, now, policy))
        shift = drift(active.card, predictions, policy.monitoring.min_samples)
        if shift is not None:
            shift.model, shift.version = name, active.version
            found.append(shift)
        for m in found:
            m.at = now
        out.extend(found)
    if out:
        store.insert(
            "ai_monitoring",
            [
                [
                    m.model,
                    m.version,
                    naive(now),
                    naive(since),
                    naive(now),
                    m.metric,
                    float(m.value),
                    m.samples,
                    json.dumps(m.details),
                ]
                for m in out
            ],
            ["Model", "Version", "At", "WindowFrom", "WindowTo", "Metric", "Value", "Samples", "Details"],
        )
    return out


def _causes(
    store: Store,
    log: PredictionLog,
    version: int,
    predictions: list[Prediction],
    now: datetime,
    policy: AiPolicy,
) -> list[Measurement]:
    orders = sorted({p.subject for p in predictions if not p.subject.startswith("po:")})
    spans = exception_spans(
        store, now - timedelta(days=policy.monitoring.window_days + 1), now, now, orders=orders
    )
    recorded = {
        (o, t): c
        for o, t, c in zip(spans["order_id"], spans["exception_type"], spans["recorded_cause"], strict=True)
        if c
    }
    overrides = {
        (r.subject, r.subject_key): r.value
        for r in reversed(log.reviews(model="exception_cause"))
        if r.action is ReviewAction.OVERRIDE
    }
    truth, guess = [], []
    for p in predictions:
        label = overrides.get((p.subject, p.subject_key)) or recorded.get((p.subject, p.subject_key))
        if label:
            truth.append(label)
            guess.append(p.label)
    if len(truth) < policy.monitoring.min_samples:
        return []
    t, g = np.asarray(truth, dtype=object), np.asarray(guess, dtype=object)
    return [
        Measurement("exception_cause", version, "live_accuracy", float((t == g).mean()), len(t)),
        Measurement(
            "exception_cause", version, "live_macro_f1", float(f1_score(t, g, average="macro")), len(t)
        ),
    ]


def _reviewed(
    store: Store,
    log: PredictionLog,
    name: str,
    version: int,
    predictions: list[Prediction],
    now: datetime,
    policy: AiPolicy,
) -> list[Measurement]:
    raised = [p for p in predictions if p.decision in ("flagged", "needs_review")]
    reviews = {r.subject: r.action for r in log.reviews(model=name)}
    confirmed = set()
    if name == "duplicates":
        orders = sorted({p.subject for p in raised} | {p.label for p in raised if p.label})
        spans = exception_spans(store, now - timedelta(days=120), now, now, orders=orders)
        disputed = spans[
            (spans["exception_type"] == "duplicate") & (~spans["stage"].isin(["capture", "validation"]))
        ]
        confirmed = {str(o) for o in disputed["order_id"]}
    known = []
    for p in raised:
        action = reviews.get(p.subject)
        if action is ReviewAction.CONFIRM or p.subject in confirmed or p.label in confirmed:
            known.append(1.0)
        elif action is ReviewAction.DISMISS:
            known.append(0.0)
    if len(known) < max(5, policy.monitoring.min_samples // 5):
        return []
    return [Measurement(name, version, "live_precision", float(np.mean(known)), len(known))]
