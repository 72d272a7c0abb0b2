"""Settings of the OTLP collector. Env: ``TOWER_COLLECTOR__<FIELD>``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CollectorSettings(BaseModel):

    model_config = ConfigDict(extra="forbid")

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
