"""Settings of alerting. Env: ``TOWER_ALERTS__<FIELD>``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from storage.settings import StrictSettings


class AlertSettings(StrictSettings):
    renamed = {"tick_seconds": "tick_s"}

    rules_file: Path | None = Field(
        default=None, description="YAML file of alert rules, routes and receivers. Default: none (no alerts)"
    )
    allow_private_targets: bool = Field(
        default=False,
        description="Allow every notification target (webhook, Slack, PagerDuty, e-mail smarthost) on "
        "loopback, link-local and private addresses. Default: false",
    )
    allowed_target_networks: list[str] = Field(
        default_factory=list,
        description="CIDR networks allowed as notification targets even when private (e.g. an internal "
        "relay subnet). Default: none",
    )
    allowed_targets: list[str] = Field(
        default_factory=list,
        description="Internal relays allowed even when private: host:port entries (e.g. "
        "smtp-relay.corp:25, [fd00::25]:25; the name as written in the rules file) or CIDR "
        "networks. Default: none",
    )
    external_url: str | None = Field(
        default=None,
        description="URL of the dashboard used in links of notifications (externalURL, generatorURL, "
        "order links). Default: web.public_url, else http://<web.host>:<web.port>",
    )
    tick_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the scheduler runs the evaluator; each rule still runs at its own interval. "
        "Default: 15",
    )
    notify_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one notification request. Default: 10"
    )
    notify_concurrency: int = Field(
        default=4, ge=1, le=64, description="Notifications delivered at the same time. Default: 4"
    )
    retry_attempts: int = Field(
        default=4, ge=1, le=20, description="Delivery attempts for retryable failures. Default: 4"
    )
    retry_initial_backoff_s: float = Field(
        default=1.0, ge=0, description="Back-off before the second attempt; doubles each time. Default: 1"
    )
    retry_max_backoff_s: float = Field(default=30.0, ge=0, description="Longest back-off. Default: 30")
    max_notifications_per_rule: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Notifications per rule and receiver integration within notification_cap_interval_s; "
        "further alert groups are folded into one summary notice. Default: 10",
    )
    notification_cap_interval_s: float = Field(
        default=300.0, gt=0, description="Window of max_notifications_per_rule, in seconds. Default: 300"
    )
    max_orders_per_alert: int = Field(
        default=20, ge=0, le=1000, description="Affected orders kept and linked per alert. Default: 20"
    )

    @field_validator("allowed_target_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not a network in CIDR form (e.g. 10.20.0.0/16): {network!r}") from None
        return value

    @field_validator("allowed_targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"not a CIDR network: {entry!r}") from None
                continue
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"an allowed target is host:port or a CIDR network, got {entry!r}")
        return value

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"external_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/")
