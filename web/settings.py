"""Settings of the dashboard. Env: ``TOWER_WEB__<FIELD>``."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class WebSettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address the dashboard binds. Default: 127.0.0.1")
    port: int = Field(default=8080, ge=0, le=65535, description="Dashboard and JSON API port. Default: 8080")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key signing session cookies; generated and kept in the data dir when unset. Default: none",
    )
    public_url: str | None = Field(
        default=None,
        description="URL users reach the dashboard at, for links in alerts. Default: http://host:port",
    )
