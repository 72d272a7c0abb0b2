"""Settings of the KPI and SLA jobs. Env: ``TOWER_KPIS__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class KpiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_file: Path | None = Field(
        default=None,
        description="YAML file of SLA policies and KPI definitions. Default: the shipped defaults",
    )
    interval_s: int = Field(default=60, ge=1, description="Seconds between incremental job runs. Default: 60")
