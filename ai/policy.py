"""The AI policy: which models run, their review thresholds and execution limits, training and
promotion rules. YAML validated by pydantic; errors name the file, line and field. The shipped
defaults are ``ai/default_policy.yaml``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kpis.policy import PolicyError
from storage import yamlfile

DEFAULT_POLICY = "default_policy.yaml"
MODEL_NAMES = ("duplicates", "spikes", "delay", "exception_cause", "allocation")
ModelName = Literal["duplicates", "spikes", "delay", "exception_cause", "allocation"]
# the customer's four use cases and the models serving each
USE_CASES: dict[str, tuple[str, ...]] = {
    "anomaly_detection": ("duplicates", "spikes"),
    "delay_prediction": ("delay",),
    "exception_classification": ("exception_cause",),
    "allocation_recommendation": ("allocation",),
}


class AiPolicyError(PolicyError):
    """The AI policy file is invalid; the message names the file, line and field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewThresholds(Strict):
    """Anomaly flags: below ``review_threshold`` no flag; up to ``flag_threshold`` needs review; from
    there flagged and routed."""

    enabled: bool = True
    review_threshold: float = Field(default=0.5, ge=0, le=1)
    flag_threshold: float = Field(default=0.85, ge=0, le=1)
    route_to: str = Field(default="customer_service", min_length=1, max_length=100)

    @model_validator(mode="after")
    def _order(self) -> ReviewThresholds:
        if self.review_threshold > self.flag_threshold:
            raise ValueError("review_threshold must not be above flag_threshold")
        return self


class DuplicatesPolicy(ReviewThresholds):
    window_hours: float = Field(default=72, gt=0, le=24 * 31)


class SpikesPolicy(ReviewThresholds):
    flag_threshold: float = Field(default=0.8, ge=0, le=1)
    history_days: int = Field(default=90, ge=1, le=3660)
    min_history: int = Field(default=4, ge=2, le=1000)


class DelayPolicy(Strict):
    enabled: bool = True
    slas: list[str] = Field(default_factory=lambda: ["capture_to_ship", "capture_to_invoice"], min_length=1)
    at_risk_threshold: float = Field(default=0.5, ge=0, le=1)


class CausePolicy(Strict):
    enabled: bool = True
    route_threshold: float = Field(default=0.6, ge=0, le=1)
    teams: dict[str, str] = Field(default_factory=dict)


class AllocationPolicy(Strict):
    """Execution limits: a recommendation is shown only at or above ``min_confidence`` and for orders
    worth at most ``max_order_value``. The tower never changes the ERP's allocation."""

    enabled: bool = True
    min_confidence: float = Field(default=0.7, ge=0, le=1)
    max_order_value: float = Field(default=25_000, ge=0)


class Models(Strict):
    duplicates: DuplicatesPolicy = Field(default_factory=DuplicatesPolicy)
    spikes: SpikesPolicy = Field(default_factory=SpikesPolicy)
    delay: DelayPolicy = Field(default_factory=DelayPolicy)
    exception_cause: CausePolicy = Field(default_factory=CausePolicy)
    allocation: AllocationPolicy = Field(default_factory=AllocationPolicy)


class AutoPromote(Strict):
    """The documented auto-promote rule: a new candidate becomes active without an admin only when
    enabled, when it beats the active model's primary metric on the same held-out window by
    ``min_gain`` (or no model is active) and reaches ``min_metric``."""

    enabled: bool = False
    min_gain: float = Field(default=0.01, ge=0, le=1)
    min_metric: dict[ModelName, float] = Field(default_factory=dict)


class Training(Strict):
    history_days: int = Field(default=28, ge=1, le=3660)
    holdout_days: int = Field(default=7, ge=1, le=365)
    label_maturity_days: int = Field(default=7, ge=0, le=365)
    retrain_every_days: int = Field(default=7, ge=0, le=365)
    auto_promote: AutoPromote = Field(default_factory=AutoPromote)


class Monitoring(Strict):
    window_days: int = Field(default=7, ge=1, le=365)
    min_samples: int = Field(default=50, ge=1)
    drift_bins: int = Field(default=10, ge=2, le=100)


class AiPolicy(Strict):
    version: Literal[1] = 1
    models: Models = Field(default_factory=Models)
    training: Training = Field(default_factory=Training)
    monitoring: Monitoring = Field(default_factory=Monitoring)

    def enabled(self, model: str) -> bool:
        return bool(getattr(self.models, model).enabled)

    def enabled_models(self) -> list[str]:
        return [m for m in MODEL_NAMES if self.enabled(m)]


def load_ai_policy(path: Path | str | None = None) -> AiPolicy:
    """Read and validate an AI policy file (``None``: the shipped defaults)."""
    if path is None:
        text = resources.files("ai").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return parse_ai_policy(text, f"ai/{DEFAULT_POLICY}")
    text = yamlfile.read(path, "AI policy", AiPolicyError)
    return parse_ai_policy(text, str(path))


def parse_ai_policy(text: str, source: str = "<ai policy>") -> AiPolicy:
    """Validate AI policy YAML; errors name the source, line and field path."""
    return yamlfile.validate(
        text,
        source,
        AiPolicy,
        AiPolicyError,
        not_mapping="an AI policy must be a mapping, got {kind}",
        whole="policy",
        line_always=True,
    )
