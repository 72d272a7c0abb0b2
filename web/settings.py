"""Settings of the dashboard. Env: ``TOWER_WEB__<FIELD>``."""

from __future__ import annotations

import ipaddress
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
        description="Absolute session timeout: a login ends this many seconds after it was made, "
        "whatever happens. Default: 43200 (12 hours)",
    )
    session_idle_timeout_s: int = Field(
        default=1800,
        ge=60,
        le=30 * 24 * 3600,
        description="Idle session timeout: a login ends after this many seconds without a request "
        "(exact to a tenth of it, at most a minute). Default: 1800 (30 minutes)",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure (set when served over HTTPS). Default: false",
    )
    login_attempts_per_minute: int = Field(
        default=10,
        ge=1,
        description="Failed logins allowed for one user name from one client address in a minute; "
        "further attempts of that pair are refused with 429 for the rest of the minute (other users "
        "at that address are not affected). Default: 10",
    )
    login_address_failures_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed logins from one client address (all user names) in a minute after which "
        "logins from that address are slowed: one at a time, each after login_slowdown_s. A correct "
        "password still gets in. Default: 30",
    )
    login_account_failures_per_hour: int = Field(
        default=100,
        ge=1,
        description="Failed logins for one user name (all addresses) in an hour after which logins "
        "for that user are slowed the same way (never locked). Default: 100",
    )
    login_slowdown_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Delay before each login attempt from a slowed address or for a slowed user. Default: 2",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks of reverse proxies whose X-Forwarded-For header is "
        "believed; the client is the right-most address not in this list. Default: none (the header "
        "is ignored and the TCP peer is the client)",
    )
    public_openapi: bool = Field(
        default=False,
        description="Serve /api/openapi.json without a login. Default: false (it needs a login like "
        "the rest of the API)",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted (forms, JSON); larger ones get 413. Default: 1048576",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds for a request's head (request line and headers) to "
        "arrive; slower clients get 408 and are disconnected. Default: 10",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds for a request's body to arrive after its head. Default: 30"
    )
    keep_alive_timeout_s: int = Field(
        default=5, ge=1, description="Idle seconds between requests on a connection. Default: 5"
    )
    max_connections: int = Field(
        default=500,
        ge=1,
        description="Open connections; beyond it the longest-idle or longest-stalled "
        "connection is closed to make room. Default: 500",
    )
    page_size: int = Field(
        default=100, ge=10, le=1000, description="Rows per page in lists (orders, exceptions). Default: 100"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not an address or CIDR network: {network!r}") from None
        return value
