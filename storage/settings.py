"""The base of every settings section, and the settings of the store (where ClickHouse is, how tables
are laid out)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Retention per table, in days (0 keeps data forever). Tables not listed keep data forever.
DEFAULT_TTL_DAYS: dict[str, int] = {
    "otel_traces": 30,
    "otel_traces_trace_id_ts": 30,
    "order_keys": 30,
    "span_links": 30,
    "alert_state_history": 90,
    "alert_notifications": 90,
    "order_spans": 30,
    "span_orders": 30,
    "orderless_spans": 30,
    "span_arrivals": 7,
    "system_hops": 30,
    "exception_signals": 30,
    "order_facts": 400,
    "order_paths": 400,
    "sla_results": 400,
    "order_exceptions": 400,
    "exception_actions": 0,
    "kpi_daily": 0,
    "kpi_system_daily": 0,
    "job_runs": 30,
    "audit_log": 0,
    "ai_order_lines": 400,
    "ai_exception_spans": 400,
    "ai_predictions": 400,
    "ai_monitoring": 400,
}


def check_identifier(value: str, what: str) -> str:
    """Return ``value`` when it is a safe ClickHouse identifier, else raise ValueError."""
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{what} must be letters, digits and underscores (not starting with a digit), got {value!r}"
        )
    return value


class StrictSettings(BaseModel):
    """Base of every settings class: an unknown key is an error, never silently ignored.

    Durations are named ``<what>_s`` (seconds). A renamed key is listed in ``renamed`` (old name ->
    new name) and still read for one release, with a warning naming the new key.
    """

    model_config = ConfigDict(extra="forbid")

    renamed: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if not cls.renamed or not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in cls.renamed.items():
            if old not in data:
                continue
            if new in data:
                raise ValueError(f"{old} is the old name of {new}; give only {new}")
            log.warning("setting %s is deprecated and will be refused in the next release: use %s", old, new)
            data[new] = data.pop(old)
        return data


class StorageSettings(StrictSettings):
    """Where the ClickHouse store lives. Env: ``TOWER_STORAGE__<FIELD>``."""

    dsn: SecretStr | None = Field(
        default=None,
        description=(
            "ClickHouse DSN. Default: chdb://<data_dir>/clickhouse (embedded engine). "
            "Use http(s)://user:pass@host:8123/db for a ClickHouse server or ClickHouse Cloud."
        ),
    )
    data_dir: Path = Field(
        default=Path(".tower"),
        description="Directory for the embedded store, the collector spool and other local state. Default: ./.tower",
    )
    database: str = Field(
        default="otel",
        description="Database holding every tower table. Default: otel (the clickhouseexporter's default).",
    )
    cluster: str | None = Field(
        default=None,
        description="ClickHouse cluster name. When set, DDL runs ON CLUSTER with Replicated* engines "
        "and Distributed tables. Default: none (single node).",
    )
    layout: Literal["single", "replicated", "sharded"] | None = Field(
        default=None,
        description="How tables are laid out: single (one server or ClickHouse Cloud, no ON CLUSTER), "
        "replicated (one shard of Replicated tables, needs cluster) or sharded (several shards, needs "
        "cluster; its sessions run subqueries on Distributed tables GLOBAL; refused by tower migrate "
        "until order-keyed tables are co-located, issue 20). "
        "Default: single, or replicated when cluster is set.",
    )
    ttl_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_TTL_DAYS),
        description="Retention in days per table; 0 keeps data forever. Default: 30 days for spans and keys.",
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="Connect timeout for a server. Default: 10"
    )
    query_timeout_s: float = Field(default=300.0, gt=0, description="Timeout of one query. Default: 300")

    @field_validator("database")
    @classmethod
    def _database_identifier(cls, value: str) -> str:
        return check_identifier(value, "database")

    @field_validator("cluster")
    @classmethod
    def _cluster_identifier(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_identifier(value, "cluster")

    @model_validator(mode="after")
    def _layout_matches_cluster(self) -> StorageSettings:
        if self.layout is None:
            self.layout = "replicated" if self.cluster else "single"
        elif self.layout == "single" and self.cluster:
            raise ValueError(
                f"layout single runs no ON CLUSTER DDL, but cluster is set ({self.cluster!r}): "
                "set layout replicated (one shard) or remove cluster"
            )
        elif self.layout != "single" and not self.cluster:
            raise ValueError(f"layout {self.layout} needs cluster: the name of the ClickHouse cluster")
        return self

    @field_validator("ttl_days")
    @classmethod
    def _ttl_values(cls, value: dict[str, int]) -> dict[str, int]:
        merged = dict(DEFAULT_TTL_DAYS)
        for table, days in value.items():
            check_identifier(table, "ttl_days table name")
            if days < 0:
                raise ValueError(f"ttl_days[{table}] must be 0 (keep forever) or more days, got {days}")
            merged[table] = days
        return merged

    @field_validator("dsn")
    @classmethod
    def _dsn_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = urlparse(value.get_secret_value()).scheme
        if scheme not in ("chdb", "http", "https", "clickhouse", "clickhouses"):
            raise ValueError(f"dsn scheme must be chdb, http or https, got {scheme or 'none'!r}")
        return value

    def effective_dsn(self) -> str:
        """The DSN in force: the configured one, or the embedded engine under ``data_dir``."""
        if self.dsn is not None:
            return self.dsn.get_secret_value()
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def embedded(self) -> bool:
        return self.effective_dsn().startswith("chdb:")
