"""The prediction log and people's reviews of predictions (the audit the governance asks for).

Every prediction is stored with the model version, the features it used, its score, the thresholds
in force and the decision. People confirm, dismiss or override predictions with a reason; reviews
are kept as an append-only log and decide what the tower shows from then on (an override wins
over the model).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from storage import SqlFiles, Store
from storage.errors import TowerError
from storage.times import naive

SQL = SqlFiles("ai.queries")
MAX_REASON = 2000


class ReviewAction(StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    OVERRIDE = "override"


class ReviewError(TowerError, ValueError):
    """A review that cannot be recorded (no reason, unknown prediction, bad value)."""


@dataclass
class Prediction:
    model: str
    version: int
    subject: str
    subject_key: str
    predicted_at: datetime
    score: float
    label: str = ""
    features: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    decision: str = ""
    reason: str = ""
    explanation: list[dict[str, Any]] = field(default_factory=list)
    prediction_id: str = ""
    created_at: datetime | None = None


@dataclass
class Review:
    prediction_id: str
    model: str
    version: int
    subject: str
    subject_key: str
    action: ReviewAction
    predicted: str
    value: str
    actor: str
    role: str
    reason: str
    at: datetime


@dataclass
class Current:
    """What the tower shows for a subject: the latest prediction and the latest review of it."""

    prediction: Prediction
    review: Review | None = None

    @property
    def decision(self) -> str:
        if self.review is None:
            return self.prediction.decision
        return {"confirm": "confirmed", "dismiss": "dismissed", "override": "overridden"}[self.review.action]

    @property
    def label(self) -> str:
        if self.review is not None and self.review.action is ReviewAction.OVERRIDE:
            return self.review.value
        return self.prediction.label


_PREDICTION_COLUMNS = [
    "PredictionId",
    "Model",
    "Version",
    "Subject",
    "SubjectKey",
    "PredictedAt",
    "CreatedAt",
    "Score",
    "Label",
    "Features",
    "Thresholds",
    "Decision",
    "Reason",
    "Explanation",
]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class PredictionLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, predictions: Iterable[Prediction]) -> int:
        now = datetime.now(UTC)
        rows = []
        for p in predictions:
            p.prediction_id = p.prediction_id or str(uuid.uuid4())
            p.created_at = p.created_at or now
            rows.append(
                [
                    uuid.UUID(p.prediction_id),
                    p.model,
                    p.version,
                    p.subject,
                    p.subject_key,
                    naive(p.predicted_at),
                    naive(p.created_at),
                    float(p.score),
                    p.label,
                    {str(k): str(v) for k, v in p.features.items()},
                    {str(k): float(v) for k, v in p.thresholds.items()},
                    p.decision,
                    p.reason,
                    json.dumps(p.explanation, default=str),
                ]
            )
        if rows:
            self.store.insert("ai_predictions", rows, _PREDICTION_COLUMNS)
        return len(rows)

    def latest(
        self,
        *,
        model: str | None = None,
        subjects: list[str] | None = None,
        decisions: list[str] | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Prediction]:
        """The latest prediction of each (model, subject, key), newest first."""
        rows = self.store.rows(
            SQL["latest_predictions"],
            {
                "any_model": int(model is None),
                "model": model or "",
                "any_subject": int(subjects is None),
                "subjects": list(subjects or []),
                "any_decision": int(decisions is None),
                "decisions": list(decisions or []),
                "since": naive(since or datetime(1970, 1, 1, tzinfo=UTC)),
                "limit": limit,
            },
        )
        return [self._prediction(r) for r in rows]

    def get(self, prediction_id: str) -> Prediction:
        try:
            key = uuid.UUID(prediction_id)
        except ValueError:
            raise ReviewError(f"{prediction_id!r} is not a prediction id") from None
        rows = self.store.rows(SQL["prediction"], {"p": key})
        if not rows:
            raise ReviewError(f"no prediction {prediction_id}")
        return self._prediction(rows[0])

    def current(
        self, subjects: list[str] | None = None, model: str | None = None, limit: int = 1000
    ) -> list[Current]:
        """Latest predictions with their latest review (if any)."""
        predictions = self.latest(model=model, subjects=subjects, limit=limit)
        reviews = self.reviews(subjects=sorted({p.subject for p in predictions})) if predictions else []
        by_key: dict[tuple[str, str, str], Review] = {}
        for review in reviews:  # newest first: keep the first seen
            by_key.setdefault((review.model, review.subject, review.subject_key), review)
        return [Current(p, by_key.get((p.model, p.subject, p.subject_key))) for p in predictions]

    def review(
        self,
        prediction_id: str,
        action: ReviewAction | str,
        *,
        actor: str,
        role: str,
        reason: str,
        value: str = "",
        allowed_values: Iterable[str] | None = None,
    ) -> Review:
        """Record a person's confirmation, dismissal or override of a prediction (reason required)."""
        try:
            kind = ReviewAction(action)
        except ValueError:
            raise ReviewError(f"action must be confirm, dismiss or override, got {action!r}") from None
        reason = reason.strip()
        if not reason:
            raise ReviewError("a reason is required; it is kept in the audit log")
        if len(reason) > MAX_REASON:
            raise ReviewError(f"the reason is longer than {MAX_REASON} characters")
        if not actor.strip():
            raise ReviewError("who reviews must be known")
        prediction = self.get(prediction_id)
        if kind is ReviewAction.OVERRIDE:
            value = value.strip()
            if not value:
                raise ReviewError("an override needs the value you choose instead")
            if allowed_values is not None and value not in set(allowed_values):
                raise ReviewError(f"{value!r} is not one of: {', '.join(sorted(allowed_values))}")
        review = Review(
            prediction.prediction_id,
            prediction.model,
            prediction.version,
            prediction.subject,
            prediction.subject_key,
            kind,
            prediction.label,
            value if kind is ReviewAction.OVERRIDE else "",
            actor,
            role,
            reason,
            datetime.now(UTC),
        )
        self.store.insert(
            "ai_reviews",
            [
                [
                    uuid.uuid4(),
                    uuid.UUID(review.prediction_id),
                    review.model,
                    review.version,
                    review.subject,
                    review.subject_key,
                    str(review.action),
                    review.predicted,
                    review.value,
                    review.actor,
                    review.role,
                    review.reason,
                    naive(review.at),
                ]
            ],
            [
                "ReviewId",
                "PredictionId",
                "Model",
                "Version",
                "Subject",
                "SubjectKey",
                "Action",
                "Predicted",
                "Value",
                "Actor",
                "Role",
                "Reason",
                "At",
            ],
        )
        return review

    def reviews(
        self, *, subjects: list[str] | None = None, model: str | None = None, limit: int = 10_000
    ) -> list[Review]:
        """Reviews, newest first."""
        rows = self.store.rows(
            SQL["reviews"],
            {
                "any_subject": int(subjects is None),
                "subjects": list(subjects or []),
                "any_model": int(model is None),
                "model": model or "",
                "limit": limit,
            },
        )
        return [
            Review(
                str(r["PredictionId"]),
                r["Model"],
                int(r["Version"]),
                r["Subject"],
                r["SubjectKey"],
                ReviewAction(r["Action"]),
                r["Predicted"],
                r["Value"],
                r["Actor"],
                r["Role"],
                r["Reason"],
                _aware(r["At"]),
            )
            for r in rows
        ]

    @staticmethod
    def _prediction(row: dict[str, Any]) -> Prediction:
        return Prediction(
            model=row["Model"],
            version=int(row["Version"]),
            subject=row["Subject"],
            subject_key=row["SubjectKey"],
            predicted_at=_aware(row["PredictedAt"]),
            score=float(row["Score"]),
            label=row["Label"],
            features=dict(row["Features"]),
            thresholds=dict(row["Thresholds"]),
            decision=row["Decision"],
            reason=row["Reason"],
            explanation=json.loads(row["Explanation"] or "[]"),
            prediction_id=str(row["PredictionId"]),
            created_at=_aware(row["CreatedAt"]),
        )
