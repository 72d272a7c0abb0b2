"""Settings of the KPI and SLA jobs. Env: ``TOWER_KPIS__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from storage.settings import StrictSettings


class KpiSettings(StrictSettings):
    policy_file: Path | None = Field(
        default=None,
        description="YAML file of SLA policies and KPI definitions. Default: the shipped defaults "
        "(kpis/default_policy.yaml)",
    )
    interval_s: int = Field(default=60, ge=1, description="Seconds between incremental job runs. Default: 60")
    arrival_overlap_s: float | None = Field(
        default=None,
        ge=0,
        description="Each incremental run re-reads this many seconds before its watermark, so inserts "
        "that committed late are not missed (recomputing an order twice is harmless). Default: 5 on one "
        "server; 120 on a cluster, where a row stamped on one replica becomes visible on the others "
        "only when replicated (the collector's quorum inserts wait up to 60 s)",
    )
    enabled: bool = Field(default=True, description="Run the KPI jobs in the scheduler role. Default: true")
