"""The model registry: versions with their training window, metrics, model card and status, the
fitted models themselves, and an audit of every decision about them.

A model version is trained as a *candidate*. It becomes *active* (the one that scores) only through
:meth:`Registry.approve` — an admin's decision, with a reason — or :meth:`Registry.auto_promote`,
which applies the documented rule of the AI policy. The active version it replaces is *retired*;
:meth:`Registry.rollback` brings the previously active version back. Fitted models are stored in the
skops format and loaded only when every type in them is on an allow-list, after checking their
SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ai.policy import AutoPromote
from storage import SqlFiles, Store
from storage.errors import TowerError
from storage.times import naive

SQL = SqlFiles("ai.queries")


class Status(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"


class RegistryError(TowerError, ValueError):
    """A registry action that is not allowed or names a version that does not exist."""


# every type a stored model may contain; anything else is refused when loading
TRUSTED_TYPES = frozenset(
    {
        "ai.delay.DelayModel",
        "ai.duplicates.DuplicateModel",
        "ai.spikes.SpikeModel",
        "ai.causes.CauseModel",
        "ai.allocation.AllocationModel",
        "ai.features.Categories",
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
        "sklearn.compose._column_transformer._RemainderColsList",
        "builtins.frozenset",
    }
)


@dataclass
class ModelVersion:
    model: str
    version: int
    status: Status
    algorithm: str
    trained_at: datetime
    trained_by: str
    train_from: datetime
    train_to: datetime
    holdout_from: datetime
    holdout_to: datetime
    train_rows: int
    metrics: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    sha256: str = ""
    status_by: str = ""
    status_at: datetime | None = None
    status_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["status"] = str(self.status)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


@dataclass
class ModelEvent:
    model: str
    version: int
    action: str
    actor: str
    reason: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


_COLUMNS = [
    "Model",
    "Version",
    "Status",
    "Algorithm",
    "TrainedAt",
    "TrainedBy",
    "TrainFrom",
    "TrainTo",
    "HoldoutFrom",
    "HoldoutTo",
    "TrainRows",
    "Metrics",
    "Card",
    "Features",
    "ArtifactSha256",
    "StatusBy",
    "StatusAt",
    "StatusReason",
    "Revision",
]


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Registry:
    """Model versions in ``ai_models``, their files in ``ai_model_artifacts``, decisions in
    ``ai_model_events``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading --------------------------------------------------------------------------------

    def versions(self, model: str) -> list[ModelVersion]:
        rows = self.store.rows(SQL["model_versions"], {"m": model})
        return [self._version(row) for row in rows]

    def get(self, model: str, version: int) -> ModelVersion:
        rows = self.store.rows(
            SQL["model_version"],
            {"m": model, "v": version},
        )
        if not rows:
            raise RegistryError(f"model {model} has no version {version}")
        return self._version(rows[0])

    def active(self, model: str) -> ModelVersion | None:
        rows = self.store.rows(
            SQL["model_active"],
            {"m": model},
        )
        return self._version(rows[0]) if rows else None

    def events(self, model: str | None = None, limit: int = 200) -> list[ModelEvent]:
        rows = self.store.rows(
            SQL["model_events"],
            {"any": int(model is None), "m": model or "", "n": limit},
        )
        return [
            ModelEvent(
                r["Model"],
                int(r["Version"]),
                r["Action"],
                r["Actor"],
                r["Reason"],
                _aware(r["At"]),
                json.loads(r["Details"] or "{}"),
            )
            for r in rows
        ]

    def load(self, model: str, version: int) -> Any:
        """The fitted model of a version (types checked against the allow-list, digest verified)."""
        entry = self.get(model, version)
        data = self.store.scalar(
            SQL["model_artifact"],
            {"m": model, "v": version, "h": entry.sha256},
        )
        if not data:
            raise RegistryError(f"model {model} version {version} has no stored model file")
        blob = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        if hashlib.sha256(blob).hexdigest() != entry.sha256:
            raise RegistryError(
                f"model {model} version {version}: the stored file does not match its SHA-256"
            )
        import skops.io as sio  # seconds of scikit-learn imports: only where a model is (de)serialised

        untrusted = set(sio.get_untrusted_types(data=blob))
        unknown = sorted(untrusted - TRUSTED_TYPES)
        if unknown:
            raise RegistryError(
                f"model {model} version {version} holds types not on the allow-list: {unknown}"
            )
        return sio.loads(blob, trusted=sorted(untrusted))

    # -- writing --------------------------------------------------------------------------------

    def register(
        self,
        model: str,
        fitted: Any,
        *,
        algorithm: str,
        trained_by: str,
        window: tuple[datetime, datetime, datetime, datetime],
        train_rows: int,
        metrics: dict[str, Any],
        card: dict[str, Any],
        features: list[str],
    ) -> ModelVersion:
        """Store a newly trained version as a candidate (never active by itself)."""
        import skops.io as sio

        blob = sio.dumps(fitted)
        digest = hashlib.sha256(blob).hexdigest()
        current = self.store.scalar(SQL["model_max_version"], {"m": model})
        version = int(current or 0) + 1
        now = datetime.now(UTC)
        self.store.insert(
            "ai_model_artifacts",
            [[model, version, digest, blob.decode("latin-1")]],
            ["Model", "Version", "Sha256", "Artifact"],
        )
        entry = ModelVersion(
            model=model,
            version=version,
            status=Status.CANDIDATE,
            algorithm=algorithm,
            trained_at=now,
            trained_by=trained_by,
            train_from=window[0],
            train_to=window[1],
            holdout_from=window[2],
            holdout_to=window[3],
            train_rows=train_rows,
            metrics=metrics,
            card=card,
            features=features,
            sha256=digest,
            status_by=trained_by,
            status_at=now,
            status_reason="trained",
        )
        self._write(entry)
        self._event(model, version, "trained", trained_by, "trained", {"metrics": metrics})
        return entry

    def approve(self, model: str, version: int, actor: str, reason: str) -> ModelVersion:
        """An admin's approval: the version becomes active, the active one is retired."""
        _need(actor, reason)
        entry = self.get(model, version)
        if entry.status is Status.ACTIVE:
            raise RegistryError(f"model {model} version {version} is already active")
        if entry.status is Status.REJECTED:
            raise RegistryError(f"model {model} version {version} was rejected; train a new candidate")
        return self._activate(entry, actor, reason, "approved")

    def auto_promote(
        self, model: str, version: int, rule: AutoPromote, primary_metric: str
    ) -> ModelVersion | None:
        """Promote a candidate by the policy's documented rule; None when the rule says no (the
        reason is recorded either way)."""
        entry = self.get(model, version)
        if entry.status is not Status.CANDIDATE:
            raise RegistryError(f"model {model} version {version} is not a candidate")
        decision, why = promotion_rule(entry, self.active(model), rule, primary_metric)
        if not decision:
            self._event(model, version, "auto_promote_declined", "auto-promote rule", why)
            return None
        return self._activate(entry, "auto-promote rule", why, "auto_promoted")

    def reject(self, model: str, version: int, actor: str, reason: str) -> ModelVersion:
        _need(actor, reason)
        entry = self.get(model, version)
        if entry.status is not Status.CANDIDATE:
            raise RegistryError(f"only a candidate can be rejected; version {version} is {entry.status}")
        entry.status, entry.status_by, entry.status_at, entry.status_reason = (
            Status.REJECTED,
            actor,
            datetime.now(UTC),
            reason,
        )
        self._write(entry)
        self._event(model, version, "rejected", actor, reason)
        return entry

    def rollback(self, model: str, actor: str, reason: str) -> ModelVersion:
        """Retire the active version and bring back the one that was active before it."""
        _need(actor, reason)
        active = self.active(model)
        if active is None:
            raise RegistryError(f"model {model} has no active version to roll back")
        history = [
            e.version
            for e in reversed(self.events(model, limit=10_000))
            if e.action in ("approved", "auto_promoted", "rolled_back_to") and e.version != active.version
        ]
        if not history:
            raise RegistryError(f"model {model} has no earlier active version to roll back to")
        previous = self.get(model, history[-1])
        now = datetime.now(UTC)
        active.status, active.status_by, active.status_at, active.status_reason = (
            Status.RETIRED,
            actor,
            now,
            f"rolled back: {reason}",
        )
        self._write(active)
        self._event(model, active.version, "rolled_back", actor, reason, {"to": previous.version})
        previous.status, previous.status_by, previous.status_at, previous.status_reason = (
            Status.ACTIVE,
            actor,
            datetime.now(UTC),
            f"restored by rollback: {reason}",
        )
        self._write(previous)
        self._event(model, previous.version, "rolled_back_to", actor, reason, {"from": active.version})
        return previous

    def _activate(self, entry: ModelVersion, actor: str, reason: str, action: str) -> ModelVersion:
        current = self.active(entry.model)
        now = datetime.now(UTC)
        if current is not None and current.version != entry.version:
            current.status, current.status_by, current.status_at, current.status_reason = (
                Status.RETIRED,
                actor,
                now,
                f"replaced by version {entry.version}",
            )
            self._write(current)
            self._event(
                current.model, current.version, "retired", actor, f"replaced by version {entry.version}"
            )
        entry.status, entry.status_by, entry.status_at, entry.status_reason = (
            Status.ACTIVE,
            actor,
            now,
            reason,
        )
        self._write(entry)
        self._event(entry.model, entry.version, action, actor, reason)
        return entry

    def _write(self, entry: ModelVersion) -> None:
        row = [
            entry.model,
            entry.version,
            str(entry.status),
            entry.algorithm,
            naive(entry.trained_at),
            entry.trained_by,
            naive(entry.train_from),
            naive(entry.train_to),
            naive(entry.holdout_from),
            naive(entry.holdout_to),
            entry.train_rows,
            json.dumps(entry.metrics, default=str),
            json.dumps(entry.card, default=str),
            entry.features,
            entry.sha256,
            entry.status_by,
            naive(entry.status_at or datetime.now(UTC)),
            entry.status_reason,
            time.time_ns(),
        ]
        self.store.insert("ai_models", [row], _COLUMNS)

    def _event(
        self,
        model: str,
        version: int,
        action: str,
        actor: str,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.store.insert(
            "ai_model_events",
            [
                [
                    uuid.uuid4(),
                    model,
                    version,
                    action,
                    actor,
                    reason,
                    json.dumps(details or {}, default=str),
                    naive(datetime.now(UTC)),
                ]
            ],
            ["EventId", "Model", "Version", "Action", "Actor", "Reason", "Details", "At"],
        )

    @staticmethod
    def _version(row: dict[str, Any]) -> ModelVersion:
        return ModelVersion(
            model=row["Model"],
            version=int(row["Version"]),
            status=Status(row["Status"]),
            algorithm=row["Algorithm"],
            trained_at=_aware(row["TrainedAt"]),
            trained_by=row["TrainedBy"],
            train_from=_aware(row["TrainFrom"]),
            train_to=_aware(row["TrainTo"]),
            holdout_from=_aware(row["HoldoutFrom"]),
            holdout_to=_aware(row["HoldoutTo"]),
            train_rows=int(row["TrainRows"]),
            metrics=json.loads(row["Metrics"] or "{}"),
            card=json.loads(row["Card"] or "{}"),
            features=list(row["Features"]),
            sha256=row["ArtifactSha256"],
            status_by=row["StatusBy"],
            status_at=_aware(row["StatusAt"]),
            status_reason=row["StatusReason"],
        )


def promotion_rule(
    candidate: ModelVersion, active: ModelVersion | None, rule: AutoPromote, primary_metric: str
) -> tuple[bool, str]:
    """The documented auto-promote rule: (promote?, why)."""
    if not rule.enabled:
        return False, "auto-promotion is off in the AI policy: an admin must approve"
    value = candidate.metrics.get(primary_metric)
    if not isinstance(value, int | float):
        return False, f"the candidate has no {primary_metric} to judge"
    floor = rule.min_metric.get(candidate.model)  # type: ignore[call-overload]
    if floor is not None and value < floor:
        return False, f"{primary_metric} {value:.4f} is below the policy's minimum {floor}"
    if active is not None:
        # the active version's score on the candidate's own held-out window, when training measured it
        current = candidate.metrics.get(f"active_{primary_metric}", active.metrics.get(primary_metric))
        if isinstance(current, int | float) and value < current + rule.min_gain:
            return (
                False,
                f"{primary_metric} {value:.4f} does not beat the active version's {current:.4f} by {rule.min_gain}",
            )
    return True, f"{primary_metric} {value:.4f} meets the auto-promote rule"


def _need(actor: str, reason: str) -> None:
    if not actor.strip():
        raise RegistryError("say who decides (an admin's name)")
    if not reason.strip():
        raise RegistryError("give a reason; it is kept in the audit log")
