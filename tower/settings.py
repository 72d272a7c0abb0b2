"""All settings of the tower, one section per package, from defaults < config file < environment.

Env variables use the prefix ``TOWER_`` and ``__`` between section and field, e.g.
``TOWER_STORAGE__DSN`` or ``TOWER_COLLECTOR__HTTP_PORT``. The config file (``--config`` or
``TOWER_CONFIG``) is YAML with the same sections.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ai.settings import AiSettings
from alerts.settings import AlertSettings
from collector.settings import CollectorSettings
from kpis.settings import KpiSettings
from storage import yamlfile
from storage.errors import TowerError
from storage.settings import StorageSettings
from web.settings import WebSettings

CONFIG_ENV = "TOWER_CONFIG"


class SettingsError(TowerError, RuntimeError):
    """Invalid settings; the message is one line naming the field and the problem."""


class TowerSettings(BaseSettings):
    """Effective settings of a tower process."""

    model_config = SettingsConfigDict(
        env_prefix="TOWER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    storage: StorageSettings = Field(default_factory=StorageSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    kpis: KpiSettings = Field(default_factory=KpiSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    ai: AiSettings = Field(default_factory=AiSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    log_level: str = Field(default="INFO", description="Log level of tower processes. Default: INFO")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _active_config_file
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    def api_url(self) -> str:
        """Where the dashboard and its JSON API are reached: ``web.public_url``, else host and port."""
        return self.web.public_url or f"http://{self.web.host}:{self.web.port}"

    def local_collector(self) -> tuple[str, str]:
        """The collector address and first token of these settings (what a local agent talks to)."""
        host = self.collector.host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        tokens = self.collector.tokens
        return f"http://{host}:{self.collector.http_port}", (tokens[0].get_secret_value() if tokens else "")

    def alert_settings(self) -> AlertSettings:
        """The alert settings, with links pointing at the dashboard's public URL unless set otherwise."""
        if self.alerts.external_url:
            return self.alerts
        return self.alerts.model_copy(update={"external_url": self.api_url()})


_active_config_file: Path | None = None


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> TowerSettings:
    """Read settings; raise :class:`SettingsError` with one clear line when they are invalid."""
    global _active_config_file
    path = config_file or os.environ.get(CONFIG_ENV) or None
    _active_config_file = Path(path) if path else None
    try:
        if _active_config_file is not None:
            _check_config_file(_active_config_file)
        return TowerSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe(exc, _active_config_file)) from None
    finally:
        _active_config_file = None


def _check_config_file(path: Path) -> None:
    """The file exists, is YAML and a mapping (the settings source itself ignores a missing file)."""
    if not path.exists():
        raise SettingsError(f"config file {path} does not exist")
    try:
        data, _ = yamlfile.parse(yamlfile.read_text(path, "config"), str(path))
    except yamlfile.YamlSyntaxError as exc:
        where = f" line {exc.line}" if exc.line else ""
        raise SettingsError(f"config file {path}{where} is not valid YAML: {exc.problem}") from None
    except yamlfile.YamlFileError as exc:
        raise SettingsError(str(exc)) from None
    if data is not None and not isinstance(data, dict):
        raise SettingsError(f"config file {path} must be a mapping of sections, got {type(data).__name__}")


def describe(exc: ValidationError, config_file: Path | None = None) -> str:
    """One line per validation problem: ``invalid setting storage.database: <problem>``."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        source = f" (env {_env_name(error['loc'])} or {config_file or 'config file'})"
        lines.append(f"invalid setting {field}: {message}{source}")
    return (
        lines[0]
        if len(lines) == 1
        else f"{lines[0]} (and {len(lines) - 1} more: " + "; ".join(lines[1:]) + ")"
    )


def _env_name(loc: tuple[Any, ...]) -> str:
    return "TOWER_" + "__".join(str(part).upper() for part in loc)


def masked(settings: BaseModel) -> dict[str, Any]:
    """Settings as plain data with secrets (and passwords inside DSNs) masked."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "***" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            return {name: walk(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    data = walk(settings)
    if isinstance(settings, TowerSettings):
        data["storage"]["effective_dsn"] = _mask_dsn(settings.storage.effective_dsn())
    return data


def _mask_dsn(dsn: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(dsn)
    if parsed.password:
        return dsn.replace(f":{parsed.password}@", ":***@", 1)
    return dsn


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
