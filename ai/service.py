"""What the dashboard, the alerts and the ``tower ai`` commands ask of the models, in one place.

:class:`AiService` answers with plain data (pydantic models for the JSON API) and applies the
switches: a model the policy or the settings switch off is neither scored nor shown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from ai import summary as summaries
from ai.catalog import ACCURACY_METRIC, CAUSES, PRIMARY_METRIC, latest
from ai.policy import MODEL_NAMES, USE_CASES, AiPolicy
from ai.predictions import Current, PredictionLog, Review, ReviewAction, ReviewError
from ai.registry import ModelVersion, Registry
from ai.settings import AiSettings
from kpis.policy import Policy
from storage import SqlFiles, Store
from tracing.timeline import Timeline

SQL = SqlFiles("ai.queries")
USE_CASE_OF = {model: case for case, models in USE_CASES.items() for model in models}


class PredictionView(BaseModel):
    prediction_id: str
    model: str
    version: int
    subject: str = Field(description="The order id (or po:<PO> for an exception not yet tied to an order).")
    subject_key: str = Field(description="What about it: the SLA, the exception type, ...")
    predicted_at: datetime = Field(description="The moment the features describe.")
    score: float
    label: str = Field(description="The prediction: cause, warehouse, matched order, late/on time.")
    decision: str = Field(description="The decision under the thresholds in force, or the review's outcome.")
    reason: str
    thresholds: dict[str, float]
    features: dict[str, str]
    explanation: list[dict[str, Any]]
    reviewed_by: str = ""
    review_reason: str = ""
    model_label: str = Field(default="", description="What the model said, when a person overrode it.")

    @classmethod
    def of(cls, current: Current) -> PredictionView:
        p = current.prediction
        review = current.review
        return cls(
            prediction_id=p.prediction_id,
            model=p.model,
            version=p.version,
            subject=p.subject,
            subject_key=p.subject_key,
            predicted_at=p.predicted_at,
            score=round(p.score, 4),
            label=current.label,
            decision=current.decision,
            reason=p.reason,
            thresholds=p.thresholds,
            features=p.features,
            explanation=p.explanation,
            reviewed_by=review.actor if review else "",
            review_reason=review.reason if review else "",
            model_label=p.label if review is not None and review.action is ReviewAction.OVERRIDE else "",
        )


class AtRiskOrder(BaseModel):
    prediction_id: str
    order_id: str
    sla: str
    risk: float
    version: int
    predicted_at: datetime
    reason: str
    factors: list[dict[str, Any]]
    stage: str
    system: str
    channel: str
    region: str
    warehouse: str
    customer_tier: str
    customer: str
    captured_at: datetime


class ModelVersionView(BaseModel):
    version: int
    status: str
    algorithm: str
    trained_at: datetime
    trained_by: str
    train_from: datetime
    train_to: datetime
    holdout_from: datetime
    holdout_to: datetime
    train_rows: int
    metrics: dict[str, Any]
    status_by: str
    status_at: datetime | None
    status_reason: str

    @classmethod
    def of(cls, v: ModelVersion) -> ModelVersionView:
        return cls(**{k: getattr(v, k) for k in cls.model_fields if k != "status"}, status=str(v.status))


class ModelEventView(BaseModel):
    version: int
    action: str
    actor: str
    reason: str
    at: datetime


class MonitoringView(BaseModel):
    metric: str
    value: float
    samples: int
    at: datetime | None
    version: int
    details: dict[str, Any]


class ModelView(BaseModel):
    model: str
    use_case: str
    enabled: bool
    primary_metric: str
    accuracy_metric: str
    active: ModelVersionView | None
    versions: list[ModelVersionView]
    card: dict[str, Any]
    monitoring: list[MonitoringView]
    events: list[ModelEventView]


class SummaryView(BaseModel):
    order_id: str
    headline: str
    lines: list[str]
    text: str
    source: str = Field(description="deterministic, or hook when the optional summary hook rewrote it.")


class OrderInsight(BaseModel):
    order_id: str
    predictions: list[PredictionView]
    summary: SummaryView | None = None


class AiService:
    def __init__(
        self, store: Store, kpi_policy: Policy, policy: AiPolicy, settings: AiSettings | None = None
    ) -> None:
        self.store = store
        self.kpi_policy = kpi_policy
        self.policy = policy
        self.settings = settings or AiSettings()
        self.registry = Registry(store)
        self.log = PredictionLog(store)
        self._hook = summaries.load_hook(self.settings.summary_hook)

    def enabled(self, model: str) -> bool:
        return self.settings.enabled and self.policy.enabled(model)

    @property
    def any_enabled(self) -> bool:
        return any(self.enabled(m) for m in MODEL_NAMES)

    # -- orders and exceptions -----------------------------------------------------------------

    def current(self, subjects: list[str]) -> list[Current]:
        if not subjects:
            return []
        return [
            c for c in self.log.current(subjects=subjects, limit=10_000) if self.enabled(c.prediction.model)
        ]

    def order(self, order_id: str, timeline: Timeline | None = None) -> OrderInsight:
        """The order's current predictions (and the summary, given its timeline)."""
        subjects = [order_id]
        if timeline is not None:
            subjects += [f"po:{po}" for po in timeline.keys.get("order.customer_po", [])]
        current = self.current(subjects)
        out = OrderInsight(order_id=order_id, predictions=[PredictionView.of(c) for c in current])
        if timeline is not None:
            out.summary = self.summary(timeline, current)
        return out

    def summary(self, timeline: Timeline, current: list[Current] | None = None) -> SummaryView:
        built = summaries.build(
            timeline, current if current is not None else self.current([timeline.order_id])
        )
        built = summaries.rewrite(built, self._hook)
        return SummaryView(
            order_id=built.order_id,
            headline=built.headline,
            lines=built.lines,
            text=built.text,
            source=built.source,
        )

    def causes(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], PredictionView]:
        """The predicted (or overridden) cause of each (order, exception type)."""
        if not self.enabled("exception_cause") or not keys:
            return {}
        wanted = set(keys)
        found = self.log.current(
            subjects=sorted({o for o, _ in keys}), model="exception_cause", limit=10 * len(keys) + 10
        )
        return {
            (c.prediction.subject, c.prediction.subject_key): PredictionView.of(c)
            for c in found
            if (c.prediction.subject, c.prediction.subject_key) in wanted
        }

    def at_risk(self, *, sla: str = "", limit: int = 200, now: datetime | None = None) -> list[AtRiskOrder]:
        if not self.enabled("delay"):
            return []
        now = now or datetime.now(UTC)
        names = [s.name for s in self.kpi_policy.slas]
        ends = [s.end.stage for s in self.kpi_policy.slas]
        rows = self.store.rows(
            SQL["at_risk"],
            {
                "since": (now - timedelta(days=14)).astimezone(UTC).replace(tzinfo=None),
                "any_sla": int(not sla),
                "sla": sla,
                "sla_names": names,
                "end_stages": ends,
                "limit": limit,
            },
        )
        out = []
        for r in rows:
            out.append(
                AtRiskOrder(
                    prediction_id=str(r["prediction_id"]),
                    order_id=r["order_id"],
                    sla=r["sla"],
                    risk=round(float(r["risk"]), 4),
                    version=int(r["version"]),
                    predicted_at=_aware(r["predicted_at"]),
                    reason=r["reason"],
                    factors=json.loads(r["explanation"] or "[]"),
                    stage=r["stage"],
                    system=r["system"],
                    channel=r["channel"],
                    region=r["region"],
                    warehouse=r["warehouse"],
                    customer_tier=r["customer_tier"],
                    customer=r["customer"],
                    captured_at=_aware(r["captured_at"]),
                )
            )
        return out

    def flags(
        self, *, decisions: tuple[str, ...] = ("flagged", "needs_review"), limit: int = 200
    ) -> list[PredictionView]:
        """Anomaly flags (duplicates, spikes) whose current decision is one of ``decisions``."""
        out = []
        for model in ("duplicates", "spikes"):
            if not self.enabled(model):
                continue
            for current in self.log.current(model=model, limit=5000):
                if current.decision in decisions:
                    out.append(PredictionView.of(current))
        out.sort(key=lambda p: (-p.score, p.subject))
        return out[:limit]

    def recommendations(self, limit: int = 200) -> list[PredictionView]:
        if not self.enabled("allocation"):
            return []
        return [PredictionView.of(c) for c in self.log.current(model="allocation", limit=limit)]

    def review(
        self, prediction_id: str, action: str, *, actor: str, role: str, reason: str, value: str = ""
    ) -> Review:
        """A person's confirmation, dismissal or override (reason required; kept in the audit log)."""
        prediction = self.log.get(prediction_id)
        if not self.enabled(prediction.model):
            raise ReviewError(f"model {prediction.model} is switched off")
        allowed = None
        if prediction.model == "exception_cause":
            allowed = CAUSES
        elif action == "override" and prediction.model != "exception_cause":
            raise ReviewError(f"{prediction.model} predictions are confirmed or dismissed, not overridden")
        return self.log.review(
            prediction_id, action, actor=actor, role=role, reason=reason, value=value, allowed_values=allowed
        )

    def reviews(self, subject: str) -> list[Review]:
        return self.log.reviews(subjects=[subject])

    # -- models --------------------------------------------------------------------------------

    def models(self) -> list[ModelView]:
        monitoring = latest(self.store)
        out = []
        for name in MODEL_NAMES:
            versions = self.registry.versions(name)
            active = next((v for v in versions if v.status == "active"), None)
            shown = active or (versions[0] if versions else None)
            out.append(
                ModelView(
                    model=name,
                    use_case=USE_CASE_OF[name],
                    enabled=self.enabled(name),
                    primary_metric=PRIMARY_METRIC[name],
                    accuracy_metric=ACCURACY_METRIC[name],
                    active=ModelVersionView.of(active) if active else None,
                    versions=[ModelVersionView.of(v) for v in versions],
                    card=shown.card if shown else {},
                    monitoring=[
                        MonitoringView(
                            metric=m.metric,
                            value=round(m.value, 4),
                            samples=m.samples,
                            at=m.at,
                            version=m.version,
                            details=m.details,
                        )
                        for m in monitoring.get(name, {}).values()
                    ],
                    events=[
                        ModelEventView(
                            version=e.version, action=e.action, actor=e.actor, reason=e.reason, at=e.at
                        )
                        for e in self.registry.events(name, limit=50)
                    ],
                )
            )
        return out

    def model(self, name: str) -> ModelView:
        for view in self.models():
            if view.model == name:
                return view
        raise KeyError(name)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
