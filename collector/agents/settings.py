"""Settings of the agents for systems that cannot be instrumented (EDI files, carrier webhooks, DB pollers).

They live under ``collector.agents`` (env ``TOWER_COLLECTOR__AGENTS__<KIND>__<FIELD>``); an agent runs
inside ``tower serve`` when its section is enabled, or standalone with ``tower agent <kind>``.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from storage.settings import StrictSettings

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class ExportSettings(StrictSettings):
    """Where an agent sends its spans (OTLP/HTTP)."""

    renamed = {"timeout_seconds": "timeout_s"}

    endpoint: str = Field(
        default="",
        description="Collector base URL, e.g. http://127.0.0.1:4318 (``/v1/traces`` is appended). "
        "Default: empty = the local collector of ``tower serve`` (collector.host/http_port)",
    )
    token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token sent to the collector. Default: empty = the first collector token, if any",
    )
    timeout_s: float = Field(
        default=10.0, gt=0, description="Time one export may take, retries included. Default: 10"
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest OTLP request the agent sends (keep it under the collector's max_body_bytes; "
        "a 413 answer halves requests). Default: 4 MiB",
    )
    max_span_age_days: float = Field(
        default=30,
        gt=0,
        description="Spans older than this are not sent: the record is refused with a reason (keep it at "
        "the store's retention). Default: 30",
    )
    max_span_ahead_s: float = Field(
        default=86400,
        ge=0,
        description="Spans further in the future than this are not sent (clock skew allowance). Default: 86400",
    )


class EdiAgentSettings(StrictSettings):
    """Watches directories for X12 interchanges (850, 855, 856, 810, 997)."""

    renamed = {"settle_seconds": "settle_s", "poll_seconds": "poll_s"}

    enabled: bool = Field(default=False, description="Run this agent inside tower serve. Default: false")
    inbound_dirs: list[Path] = Field(
        default_factory=list, description="Directories of interchanges received from partners. Default: none"
    )
    outbound_dirs: list[Path] = Field(
        default_factory=list, description="Directories of interchanges sent to partners. Default: none"
    )
    state_dir: Path | None = Field(
        default=None,
        description="Where the processed-files ledger lives. Default: <storage.data_dir>/agents/edi",
    )
    quarantine_dir: Path | None = Field(
        default=None,
        description="Where malformed files are moved (with <file>.reason.txt). Default: <state_dir>/quarantine",
    )
    archive_dir: Path | None = Field(
        default=None,
        description="Where processed files are moved (under a YYYY-MM-DD folder). Default: none = left in place",
    )
    settle_s: float = Field(
        default=2.0,
        ge=0,
        description="A file is read only after its size and mtime stayed unchanged this long. Default: 2",
    )
    poll_s: float = Field(default=1.0, gt=0, description="Directory scan interval. Default: 1")
    max_file_bytes: int = Field(
        default=100 * 1024 * 1024,
        gt=0,
        description="Larger files are quarantined unread (files are streamed: memory does not grow with "
        "size). Default: 100 MiB",
    )
    partial_suffixes: list[str] = Field(
        default_factory=lambda: [".tmp", ".part", ".partial", ".filepart"],
        description="Names ending so are still being written and never read. Default: .tmp .part .partial .filepart",
    )
    export_batch_spans: int = Field(
        default=2000,
        gt=0,
        description="Spans per export: small files are sent together up to this many spans, a larger "
        "file in chunks of this many (each file is acknowledged only once all its spans were accepted). "
        "Default: 2000",
    )
    system_instance: str = Field(
        default="edi-gateway", description="system.instance / service.name of the spans. Default: edi-gateway"
    )
    export: ExportSettings = Field(default_factory=ExportSettings, description="OTLP target. Default: local")


class FieldMapping(StrictSettings):
    """Dotted JSON paths of a carrier webhook body (``a.b.0.c``)."""

    event_id: str = Field(description="Unique event id (replays are counted once)")
    tracking_number: str = Field(description="Tracking number")
    status: str = Field(description="Carrier status of the event")
    carrier: str | None = Field(default=None, description="Carrier name or SCAC. Default: none")
    shipment_id: str | None = Field(default=None, description="Shipment id. Default: none")
    order_id: str | None = Field(
        default=None, description="Canonical order id, when the carrier echoes it. Default: none"
    )
    occurred_at: str | None = Field(
        default=None, description="Event time (ISO 8601 or epoch seconds). Default: none = receive time"
    )
    message: str | None = Field(default=None, description="Human readable status detail. Default: none")
    status_map: dict[str, str] = Field(
        default_factory=dict,
        description="Carrier status -> picked_up|in_transit|out_for_delivery|delivered|exception; "
        "unmapped statuses are lower-cased. Default: none",
    )


class CarrierAgentSettings(StrictSettings):
    """HTTP endpoint receiving carrier tracking webhooks."""

    enabled: bool = Field(default=False, description="Run this agent inside tower serve. Default: false")
    host: str = Field(default="127.0.0.1", description="Bind address. Default: 127.0.0.1")
    port: int = Field(default=4319, ge=0, le=65535, description="Port. Default: 4319")
    path: str = Field(default="/webhooks/carrier", description="Webhook path. Default: /webhooks/carrier")
    mapping: Literal["easypost", "aftership", "custom"] = Field(
        default="easypost",
        description="Body shape: built-in EasyPost-style Event or AfterShip tracking_update, or the custom "
        "field_mapping. Default: easypost",
    )
    field_mapping: FieldMapping | None = Field(
        default=None, description="Field mapping used when mapping=custom. Default: none"
    )
    secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signing secret. Standard Webhooks: 'whsec_' + base64 of the key; hmac-sha256: any text. "
        "Without one the webhook refuses to start unless allow_unsigned is true. Default: none",
    )
    signature_scheme: Literal["standard-webhooks", "hmac-sha256"] = Field(
        default="standard-webhooks",
        description="standard-webhooks: webhook-id, webhook-timestamp and webhook-signature headers, "
        "HMAC-SHA256 of 'id.timestamp.body', signed timestamps within tolerance_s. hmac-sha256: "
        "the HMAC of the body alone in signature_header (no signed time: replays are caught only by the "
        "event ids kept for replay_retention_days). Default: standard-webhooks",
    )
    allow_unsigned: bool = Field(
        default=False,
        description="Accept unsigned events when no secret is set (a warning is logged at every start). "
        "Default: false",
    )
    tolerance_s: int = Field(
        default=300,
        gt=0,
        le=3600,
        description="Standard Webhooks: webhook-timestamp may differ from now by this much. Default: 300",
    )
    signature_header: str = Field(
        default="X-Hmac-Signature",
        description="hmac-sha256 scheme: header carrying the hex (optionally 'hmac-sha256-hex=' / 'sha256=' "
        "prefixed) or base64 HMAC of the raw body. Default: X-Hmac-Signature",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Larger bodies get 413. Default: 1 MiB"
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds for a request's head to arrive (408 beyond). Default: 10"
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds for a request's body to arrive after its head. Default: 30"
    )
    keep_alive_timeout_s: int = Field(
        default=5, ge=1, description="Idle seconds between requests on a connection. Default: 5"
    )
    max_connections: int = Field(
        default=200,
        ge=1,
        description="Open connections; beyond it the longest-idle or longest-stalled "
        "connection is closed to make room. Default: 200",
    )
    replay_retention_days: float = Field(
        default=30,
        gt=0,
        description="Accepted event ids are kept this long (durably) and a replay is answered 'duplicate'; "
        "webhook ids at least twice tolerance_s. Default: 30",
    )
    state_dir: Path | None = Field(
        default=None, description="Where seen event ids are kept. Default: <storage.data_dir>/agents/carrier"
    )
    system_instance: str = Field(
        default="carrier-webhook", description="system.instance of the spans. Default: carrier-webhook"
    )
    export: ExportSettings = Field(default_factory=ExportSettings, description="OTLP target. Default: local")

    @model_validator(mode="after")
    def _custom_needs_mapping(self) -> CarrierAgentSettings:
        if self.mapping == "custom" and self.field_mapping is None:
            raise ValueError("mapping=custom needs field_mapping")
        secret = self.secret.get_secret_value()
        if secret and self.signature_scheme == "standard-webhooks":
            standard_webhooks_key(secret)  # fails with a clear message
        return self


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ``whsec_<base64>``; ValueError when it is not one."""
    if not secret.startswith("whsec_"):
        raise ValueError("a Standard Webhooks secret starts with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except binascii.Error:
        raise ValueError("the Standard Webhooks secret after 'whsec_' is not valid base64") from None
    if len(key) < 16:
        raise ValueError("the Standard Webhooks secret is too short (at least 16 bytes of key)")
    return key


class RowMapping(StrictSettings):
    """How one polled row becomes a hop span: attribute -> column name (or a fixed value)."""

    span_name: str = Field(
        default="order.status_change", description="Span name. Default: order.status_change"
    )
    stage: str | None = Field(default=None, description="Fixed order.stage. Default: none")
    stage_column: str | None = Field(default=None, description="Column holding order.stage. Default: none")
    start_column: str | None = Field(
        default=None, description="Column with the hop start time. Default: none = poll time"
    )
    end_column: str | None = Field(default=None, description="Column with the hop end time. Default: start")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Span attribute -> column name. Default: none"
    )
    static_attributes: dict[str, str] = Field(
        default_factory=dict, description="Span attribute -> fixed value. Default: none"
    )

    @model_validator(mode="after")
    def _one_stage(self) -> RowMapping:
        if self.stage and self.stage_column:
            raise ValueError("give stage or stage_column, not both")
        return self


class PollerAgentSettings(StrictSettings):
    """Polls a SQL table or query for order status changes with a monotonic cursor column."""

    renamed = {"poll_seconds": "poll_s"}

    enabled: bool = Field(default=False, description="Run this agent inside tower serve. Default: false")
    name: str = Field(
        default="poller", description="Name of this poller (names its cursor file). Default: poller"
    )
    url: SecretStr = Field(default=SecretStr(""), description="SQLAlchemy URL of the source. Default: none")
    table: str | None = Field(default=None, description="Table to poll (or give query). Default: none")
    query: str | None = Field(default=None, description="SELECT to poll, used as a subquery. Default: none")
    cursor_column: str = Field(
        default="id", description="Strictly increasing column (id or change sequence). Default: id"
    )
    batch_size: int = Field(default=500, gt=0, description="Rows per poll and export. Default: 500")
    poll_s: float = Field(default=5.0, gt=0, description="Interval between polls. Default: 5")
    mapping_file: Path | None = Field(default=None, description="YAML RowMapping file. Default: none")
    mapping: RowMapping = Field(
        default_factory=RowMapping,
        description="Row mapping (when no mapping_file). Default: span order.status_change, no attributes",
    )
    state_dir: Path | None = Field(
        default=None, description="Where the cursor is kept. Default: <storage.data_dir>/agents/poller"
    )
    system_kind: str = Field(default="erp", description="system.kind of the spans. Default: erp")
    system_instance: str = Field(default="erp", description="system.instance of the spans. Default: erp")
    export: ExportSettings = Field(default_factory=ExportSettings, description="OTLP target. Default: local")

    @field_validator("table", "cursor_column")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENT.match(value):
            raise ValueError(f"{value!r} is not a plain SQL identifier")
        return value

    @model_validator(mode="after")
    def _source(self) -> PollerAgentSettings:
        if self.table and self.query:
            raise ValueError("give table or query, not both")
        if self.enabled and not (self.table or self.query):
            raise ValueError("an enabled poller needs table or query")
        if self.enabled and not self.url.get_secret_value():
            raise ValueError("an enabled poller needs url")
        return self


class AgentSettings(StrictSettings):
    """The agents section of the collector settings."""

    edi: EdiAgentSettings = Field(
        default_factory=EdiAgentSettings, description="EDI X12 file agent. Default: disabled"
    )
    carrier: CarrierAgentSettings = Field(
        default_factory=CarrierAgentSettings, description="Carrier tracking webhook. Default: disabled"
    )
    pollers: list[PollerAgentSettings] = Field(
        default_factory=list, description="Database pollers. Default: none"
    )
