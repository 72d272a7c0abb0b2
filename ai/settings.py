"""Settings of the AI-assisted exception handling. Env: ``TOWER_AI__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from storage.settings import StrictSettings


class AiSettings(StrictSettings):
    """What the scheduler runs for ``ai/`` and where its policy lives."""

    enabled: bool = Field(
        default=True,
        description="Run the models at all (scoring, monitoring, scheduled training). Each model is "
        "switched on or off in the AI policy (models.<name>.enabled). Default: true",
    )
    policy_file: Path | None = Field(
        default=None,
        description="YAML file of the AI policy: models on/off, review thresholds, execution limits, "
        "training and promotion rules. Default: the shipped ai/default_policy.yaml",
    )
    score_interval_s: int = Field(
        default=300, ge=10, description="Seconds between scoring runs in the scheduler role. Default: 300"
    )
    monitor_interval_s: int = Field(
        default=3600,
        ge=60,
        description="Seconds between monitoring runs (live accuracy, drift). Default: 3600",
    )
    summary_hook: str | None = Field(
        default=None,
        description="Optional 'module:function' that rewrites the deterministic exception summary (for "
        "example with an LLM). It gets the summary's facts and text and returns text; on any error the "
        "deterministic text is shown. Default: none (off)",
    )

    @field_validator("summary_hook")
    @classmethod
    def _hook(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        module, sep, function = value.partition(":")
        if not sep or not module or not function.isidentifier():
            raise ValueError("summary_hook must be 'package.module:function'")
        return value
