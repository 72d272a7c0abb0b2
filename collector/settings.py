"""Settings of the OTLP collector. Env: ``TOWER_COLLECTOR__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from collector.agents.settings import AgentSettings
from storage.settings import StrictSettings


class CollectorSettings(StrictSettings):
    host: str = Field(default="127.0.0.1", description="Address the OTLP receivers bind. Default: 127.0.0.1")
    http_port: int = Field(default=4318, ge=0, le=65535, description="OTLP/HTTP port. Default: 4318")
    grpc_port: int = Field(default=4317, ge=0, le=65535, description="OTLP/gRPC port. Default: 4317")
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens accepted for ingest; empty means no auth. Default: none",
    )
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="Largest request body after decompression. Default: 20 MiB",
    )
    max_inflight_bytes: int = Field(
        default=128 * 1024 * 1024,
        gt=0,
        description="Request bytes being decoded at once (memory bound); beyond it requests get "
        "429 / gRPC UNAVAILABLE with a retry delay. Default: 128 MiB",
    )
    spool_dir: Path | None = Field(
        default=None,
        description="Write-ahead spool directory. Default: <storage.data_dir>/spool",
    )
    spool_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        gt=0,
        description="Spooled bytes not yet written to ClickHouse; beyond it requests get 503 / gRPC "
        "UNAVAILABLE with a retry delay. Default: 1 GiB",
    )
    batch_max_rows: int = Field(
        default=50_000,
        ge=1,
        description="Rows per ClickHouse insert (a spool segment is sealed at this size). Default: 50000",
    )
    batch_max_bytes: int = Field(
        # 12 MiB: at a real 2x overload 16 MiB inserts took all tower processes to 935-1,048 MiB
        # (the target is 1 GiB); 12 MiB: 901-972, the writer's process ~100 MiB less, CPU per span
        # within the noise (docs/benchmarks.md, 1 December, ninth session)
        default=12 * 1024 * 1024,
        gt=0,
        description="Request bytes per ClickHouse insert (a spool segment is sealed at this size too): "
        "bounds the engine's memory per insert. Default: 12 MiB",
    )
    python_convert_max_rows: int = Field(
        default=1000,
        ge=0,
        description="Inserts of up to this many spans are converted in Python (JSONCompactColumns), "
        "bigger ones by the engine (Protobuf input): a small insert, such as a lone request's, costs "
        "less without the engine's query analysis. 0: always the engine. Default: 1000",
    )
    receivers: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Receiver processes (OTLP/HTTP and gRPC on the same ports, validation, spool; no "
        "engine), beside the process that owns the store and writes. 0 receives in that process. "
        "Default: 2",
    )
    flush_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Longest time spans wait in the spool before a (smaller) insert. Default: 1.0",
    )
    max_span_age_s: float | None = Field(
        default=None,
        gt=0,
        description="Oldest span or event time accepted, in seconds before now; older spans are rejected "
        "in partial_success. Default: the retention of otel_traces (storage.ttl_days.otel_traces); with "
        "retention 0 (keep forever) back to 1973-03-03T09:46:40Z, the earliest time the store holds exactly",
    )
    max_clock_skew_s: float = Field(
        default=86_400.0,
        ge=0,
        description="Newest span or event time accepted, in seconds after now (senders' clock skew); later "
        "spans are rejected in partial_success. Never past 2106-02-07 (the store's DateTime). Default: 86400",
    )
    health_stall_s: float = Field(
        default=30.0,
        gt=0,
        description="Spans waiting while the writer made no progress for this long turn /healthz "
        "'degraded' and /readyz 503. Default: 30",
    )
    health_spool_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Spool fill (of spool_max_bytes) beyond which /healthz is 'degraded' and /readyz 503. "
        "Default: 0.8",
    )
    retry_initial_backoff_s: float = Field(
        default=0.2, gt=0, description="First retry delay of a failed insert. Default: 0.2"
    )
    retry_max_backoff_s: float = Field(
        default=10.0, gt=0, description="Longest retry delay of a failed insert (with jitter). Default: 10"
    )
    retry_after_s: int = Field(
        default=2, ge=1, description="Retry-After seconds sent with 429/503 answers. Default: 2"
    )
    max_attributes: int = Field(
        default=128, ge=1, description="Attributes kept per span, event, link or resource. Default: 128"
    )
    max_attribute_key_length: int = Field(
        default=256, ge=1, description="Longest attribute key (longer keys are cut). Default: 256"
    )
    max_attribute_value_length: int = Field(
        default=16 * 1024,
        ge=1,
        description="Longest attribute value as text (longer are cut). Default: 16384",
    )
    max_array_length: int = Field(
        default=1000, ge=1, description="Elements kept of an array attribute. Default: 1000"
    )
    max_events: int = Field(default=1000, ge=0, description="Events kept per span. Default: 1000")
    max_links: int = Field(default=1000, ge=0, description="Links kept per span. Default: 1000")
    grpc_workers: int = Field(default=8, ge=1, description="Threads serving OTLP/gRPC. Default: 8")
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="OTLP/HTTP: seconds for a request's head (request line and "
        "headers) to arrive; slower clients get 408 and are disconnected. Default: 10",
    )
    http_body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="OTLP/HTTP: seconds for a request's whole body to arrive after "
        "its head; slower clients get 408, nothing is stored. Default: 60",
    )
    http_keep_alive_timeout_s: int = Field(
        default=30, ge=1, description="OTLP/HTTP: idle seconds between requests on a connection. Default: 30"
    )
    http_max_connections: int = Field(
        default=1000,
        ge=1,
        description="OTLP/HTTP: open connections; beyond it the longest-idle or "
        "longest-stalled connection is closed to make room. Default: 1000",
    )
    http_max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="OTLP/HTTP: largest request head (431 beyond). Default: 65536"
    )
    grpc_handshake_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="OTLP/gRPC: seconds for a new connection to finish the HTTP/2 "
        "handshake (preface and SETTINGS); slower ones are closed. Default: 10",
    )
    grpc_max_connections: int = Field(
        default=1000, ge=1, description="OTLP/gRPC: open connections; further ones are refused. Default: 1000"
    )
    grpc_max_concurrent_streams: int = Field(
        default=100, ge=1, description="OTLP/gRPC: concurrent calls per connection. Default: 100"
    )
    grpc_max_connection_idle_s: float = Field(
        default=300.0,
        gt=0,
        description="OTLP/gRPC: a connection without calls for this long is closed (GOAWAY). Default: 300",
    )
    grpc_max_connection_age_s: float = Field(
        default=1800.0,
        gt=0,
        description="OTLP/gRPC: a connection is closed after this long (GOAWAY; "
        "clients reconnect), which also bounds a call whose message trickles in. Default: 1800",
    )
    grpc_max_connection_age_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="OTLP/gRPC: time calls get to finish after the age GOAWAY. Default: 30",
    )
    agents: AgentSettings = Field(
        default_factory=AgentSettings,
        description="Agents for EDI files, carrier webhooks and DB pollers, run by tower serve. Default: none enabled",
    )
