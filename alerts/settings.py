"""Settings of alerting. Env: ``TOWER_ALERTS__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class AlertSettings(BaseModel):

    model_config = ConfigDict(extra="forbid")

    rules_file: Path | None = Field(
        default=None, description="YAML file of alert rules, routes and receivers. Default: none (no alerts)"
    )
    allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook/Slack targets on loopback, link-local and private addresses. Default: false",
    )
