"""Settings of the dashboard. Env: ``TOWER_WEB__<FIELD>``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, field_validator

from storage.settings import StrictSettings

USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


class Role(StrEnum):
    """Dashboard roles, each including the ones before it."""

    VIEWER = "viewer"  # KPIs and every page, read-only
    OPS = "ops"  # plus exception actions (assign, comment, resolve)
    ADMIN = "admin"  # plus settings and API tokens

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPS: 1, Role.ADMIN: 2}


class ConfiguredUser(StrictSettings):
    """A dashboard user from configuration; the password is an argon2 hash (``tower users hash``)."""

    username: str = Field(pattern=USERNAME_PATTERN, description="Login name.")
    password_hash: SecretStr = Field(description="argon2 hash of the password ($argon2id$...).")
    role: Role = Field(default=Role.VIEWER, description="viewer, ops or admin. Default: viewer")

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("$argon2"):
            raise ValueError("password_hash must be an argon2 hash (make one with `tower users hash`)")
        return value


class WebSettings(StrictSettings):
    """The dashboard and JSON API. Env: ``TOWER_WEB__<FIELD>``."""

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
    users: list[ConfiguredUser] = Field(
        default_factory=list,
        description="Users from configuration (in addition to those added with `tower users add`, "
        "which are stored in the web_users table). Default: none",
    )
    session_max_age_s: int = Field(
        default=12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="How long a login lasts, in seconds. Default: 43200 (12 hours)",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure (set when served over HTTPS). Default: false",
    )
    login_attempts_per_minute: int = Field(
        default=10,
        ge=1,
        description="Failed logins allowed per user name and per client address in one minute "
        "before further attempts are refused with 429. Default: 10",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted (forms, JSON); larger ones get 413. Default: 1048576",
    )
    page_size: int = Field(
        default=100, ge=10, le=1000, description="Rows per page in lists (orders, exceptions). Default: 100"
    )
