"""Alert rules, routes, receivers, inhibit rules and mute time intervals, read from YAML.

The file follows Alertmanager's configuration where the concepts match (``route`` tree with
``continue``, ``group_by``/``group_wait``/``group_interval``/``repeat_interval``, ``receivers`` with
``*_configs``, ``inhibit_rules``, ``time_intervals``); rules select one of the tower's signals
(:mod:`alerts.signals`). Errors name the file, line and field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.matchers import Matcher, MatcherError, parse_matcher
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, check_host, check_scheme, check_smarthost, check_target
from alerts.timeintervals import TimeInterval
from storage import yamlfile
from storage.errors import TowerError

MAX_RULES_FILE_BYTES = 2_000_000
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_EMAIL = re.compile(r"^[^\s@<>,;\"]+@[^\s@<>,;\"]+$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TEMPLATES = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class RulesError(TowerError, ValueError):
    """The rules file is invalid; the message names file, line and field."""


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``2d``, ``1w`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value}")
        return timedelta(seconds=value)
    text = str(value).strip()
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(f"invalid duration {value!r}: use e.g. 30s, 5m, 1h30m, 2d")
    w, d, h, m, s, ms = (int(g or 0) for g in match.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s, milliseconds=ms)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _threshold(value: Any) -> float:
    if isinstance(value, str) and not re.match(r"^-?[\d.]+(e-?\d+)?$", value.strip()):
        return parse_duration(value).total_seconds()
    return float(value)


Threshold = Annotated[float, BeforeValidator(_threshold)]

# Segments that rules filter and group by, and the span attribute each one reads.
SEGMENTS: dict[str, str] = {
    "stage": "order.stage",
    "system": "system.instance",
    "system_kind": "system.kind",
    "channel": "order.channel",
    "region": "order.region",
    "warehouse": "warehouse.id",
    "customer_tier": "customer.tier",
}

SignalName = Literal[
    "stalled_orders",
    "sla_breach_count",
    "sla_breach_rate",
    "at_risk_orders",
    "exception_age",
    "kpi",
    "system_error_rate",
    "system_latency",
    "system_quiet",
    "span_count",
    "process_deviations",
    "ai_accuracy",
    "ai_drift",
]


ValueUnit = Literal["count", "seconds", "ratio", "number"]
_SIGNAL_UNITS: dict[str, ValueUnit] = {
    "stalled_orders": "count",
    "sla_breach_count": "count",
    "sla_breach_rate": "ratio",
    "at_risk_orders": "count",
    "exception_age": "count",
    "system_error_rate": "ratio",
    "system_latency": "seconds",
    "system_quiet": "seconds",
    "span_count": "count",
    "process_deviations": "count",
    "ai_accuracy": "number",
    "ai_drift": "number",
}


def signal_unit(signal: str, kpi: str = "") -> ValueUnit:
    """The unit of a signal's value; for ``kpi`` it follows the KPI's name (rates, times, counts)."""
    if signal != "kpi":
        return _SIGNAL_UNITS.get(signal, "number")
    if kpi.endswith(("_rate", "_accuracy")):
        return "ratio"
    if kpi.startswith(("cycle_time", "exception_resolution", "invoice_latency")):
        return "seconds"
    return "count"


# -- each signal's params (see alerts.signals for what they compute) ------------------------------

LATENCY_QUANTILES = (0.5, 0.9, 0.95, 0.99)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StalledParams(_Params):
    age: Duration = Field(description="An order is stalled when its latest hop ended this long ago.")
    lookback: Duration = Field(default=timedelta(days=7), description="How far back orders are read.")
    terminal_stages: list[str] = Field(default_factory=lambda: ["deliver", "invoice"])


class WindowParams(_Params):
    window: Duration = timedelta(minutes=5)
    min_spans: int = Field(default=1, ge=1, description="Groups with fewer spans are skipped.")


class LatencyParams(WindowParams):
    quantile: float = Field(default=0.95, description="One of 0.5, 0.9, 0.95, 0.99.")

    @field_validator("quantile")
    @classmethod
    def _quantile(cls, value: float) -> float:
        if value not in LATENCY_QUANTILES:
            raise ValueError(f"quantile must be one of {', '.join(map(str, LATENCY_QUANTILES))}")
        return value


class QuietParams(_Params):
    lookback: Duration = Field(
        default=timedelta(days=1), description="Systems seen in this window are known."
    )


class KpiSourceParams(_Params):
    window: Duration = Field(default=timedelta(days=1), description="Orders captured this far back count.")
    age: Duration | None = Field(default=None, description="exception_age: open exceptions older than this.")
    kpi: str | None = Field(default=None, description="kpi: the KPI's name, e.g. touchless_rate.")
    sla: str = Field(default="", description="Only this SLA (default: every SLA of the policy).")
    exception_type: str = Field(default="", description="exception_age: only this exception type.")
    open_only: bool = Field(default=True, description="sla_breach_count: only orders still open and overdue.")


class ProcessParams(_Params):
    window: Duration = Field(
        default=timedelta(days=1), description="Orders whose first hop started this far back count."
    )
    kind: Literal["", "rework", "skipped", "order"] = Field(
        default="", description="Only this kind of deviation (rework, skipped, order); default: any."
    )
    detail: str = Field(
        default="", description="Only this deviation, e.g. 'invoice before ship' or 'credit @ erp-east'."
    )


class AiParams(_Params):
    model: str = Field(default="", description="Only this model (default: every active model).")
    metric: str = Field(
        default="",
        description="ai_accuracy: the live metric (default per model: delay live_auc, exception_cause "
        "live_accuracy, duplicates/spikes live_precision).",
    )
    max_age: Duration = Field(
        default=timedelta(days=2), description="Measurements older than this count as no data."
    )


_PARAMS: dict[str, type[_Params]] = {
    "stalled_orders": StalledParams,
    "system_error_rate": WindowParams,
    "system_latency": LatencyParams,
    "system_quiet": QuietParams,
    "span_count": WindowParams,
    "sla_breach_count": KpiSourceParams,
    "sla_breach_rate": KpiSourceParams,
    "at_risk_orders": KpiSourceParams,
    "exception_age": KpiSourceParams,
    "kpi": KpiSourceParams,
    "process_deviations": ProcessParams,
    "ai_accuracy": AiParams,
    "ai_drift": AiParams,
}


def check_params(signal: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a rule's ``params`` for its signal; returns them with defaults filled in."""
    try:
        model = _PARAMS[signal].model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"params.{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            if e["type"] != "extra_forbidden"
            else f"params.{'.'.join(str(p) for p in e['loc'])}: unknown option for signal {signal}"
            for e in exc.errors()
        )
        raise ValueError(problems) from None
    if signal == "exception_age" and model.age is None:  # type: ignore[attr-defined]
        raise ValueError("params.age is required for signal exception_age")
    if signal == "kpi" and not model.kpi:  # type: ignore[attr-defined]
        raise ValueError("params.kpi is required for signal kpi")
    return dict(model)


_OPS = {">", ">=", "<", "<=", "==", "!="}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Rule(_Strict):
    name: str = Field(description="Alert name (the alertname label).")
    signal: SignalName
    params: dict[str, Any] = Field(
        default_factory=dict, validate_default=True, description="Signal options (window, age, kpi, ...)."
    )
    filters: dict[str, list[str]] = Field(default_factory=dict, description="segment -> allowed values")
    group_by: list[str] = Field(default_factory=list, description="Segments giving one alert per value.")
    op: str = ">"
    threshold: Threshold = 0.0
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    interval: Duration = timedelta(minutes=1)
    no_data: Literal["ok", "alerting"] = Field(
        default="ok", description="When the signal has no data at all: ok, or fire a no-data alert."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.:-]{1,100}$", value):
            raise ValueError("rule name must be 1-100 letters, digits, '_', '.', ':' or '-'")
        return value

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, allowed in value.items():
            if key not in SEGMENTS:
                raise ValueError(f"unknown segment {key!r} in filters; choose from {', '.join(SEGMENTS)}")
            if not allowed:
                raise ValueError(f"filter {key!r} needs at least one value")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for key in value:
            if key not in SEGMENTS:
                raise ValueError(f"unknown segment {key!r} in group_by; choose from {', '.join(SEGMENTS)}")
        if len(set(value)) != len(value):
            raise ValueError("group_by lists a segment twice")
        return value

    @field_validator("op")
    @classmethod
    def _op(cls, value: str) -> str:
        if value not in _OPS:
            raise ValueError(f"op must be one of {' '.join(sorted(_OPS))}, got {value!r}")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("interval must be at least 1s")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _LABEL_NAME.match(key):
                raise ValueError(f"label name {key!r} must be letters, digits and underscores")
            if key == "alertname":
                raise ValueError("the alertname label is the rule name; do not set it")
        return value

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            try:
                TEMPLATES.parse(text)
            except TemplateSyntaxError as exc:
                raise ValueError(f"annotation {key!r} is not a valid template: {exc.message}") from None
        return value

    @field_validator("params")
    @classmethod
    def _signal_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        signal = info.data.get("signal")
        return check_params(signal, value) if signal else value

    @property
    def unit(self) -> ValueUnit:
        """What the rule's value measures, so pages show ``4h 12m`` or ``12.5%`` rather than seconds."""
        return signal_unit(self.signal, str(self.params.get("kpi", "")))

    def compare(self, value: float) -> bool:
        t = self.threshold
        return {
            ">": value > t,
            ">=": value >= t,
            "<": value < t,
            "<=": value <= t,
            "==": value == t,
            "!=": value != t,
        }[self.op]


def _matchers(value: Any) -> list[Matcher]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):  # {name: value} shorthand for equality matchers
        return [Matcher(str(k), "=", str(v)) for k, v in value.items()]
    out = []
    for item in value:
        if isinstance(item, Matcher):
            out.append(item)
            continue
        try:
            out.append(parse_matcher(str(item)))
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
    return out


Matchers = Annotated[list[Matcher], BeforeValidator(_matchers)]


class HttpTarget(_Strict):
    url: SecretStr
    send_resolved: bool = True

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: SecretStr) -> SecretStr:
        check_scheme(value.get_secret_value())
        return value


class WebhookConfig(HttpTarget):
    max_alerts: int = Field(default=0, ge=0, description="Alerts per message; 0 sends all.")
    bearer_token: SecretStr | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <token>' (Alertmanager's http_config)."
    )


class SlackConfig(HttpTarget):
    channel: str | None = None
    username: str | None = None


PdSeverity = Literal["critical", "error", "warning", "info"]


def _default_severity_map() -> dict[str, PdSeverity]:
    return {
        "critical": "critical",
        "page": "critical",
        "error": "error",
        "warning": "warning",
        "info": "info",
    }


class PagerDutyConfig(_Strict):
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    send_resolved: bool = True
    send_acknowledged: bool = True
    client: str = "Order Control Tower"
    severity_map: dict[str, PdSeverity] = Field(
        default_factory=_default_severity_map,
        description="severity label -> PagerDuty severity; others map to default_severity",
    )
    default_severity: PdSeverity = "error"

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        check_scheme(value)
        return value


class EmailConfig(_Strict):
    to: list[str]
    from_: str = Field(alias="from")
    smarthost: str = Field(description="host:port of the SMTP server")
    require_tls: bool = True
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    tls_ca_file: Path | None = None
    send_resolved: bool = True

    @field_validator("to", mode="before")
    @classmethod
    def _to_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("to", "from_")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        for address in [value] if isinstance(value, str) else value:
            if not _EMAIL.match(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @field_validator("smarthost")
    @classmethod
    def _smarthost(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"smarthost must be host:port, got {value!r}")
        check_host(host)
        return value


class Receiver(_Strict):
    name: str
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)


class Route(_Strict):
    receiver: str | None = None
    group_by: list[str] | None = None
    matchers: Matchers = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)


class InhibitRule(_Strict):
    source_matchers: Matchers
    target_matchers: Matchers
    equal: list[str] = Field(default_factory=list)


class RulesConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    route: Route = Field(default_factory=lambda: Route(receiver=None))
    receivers: list[Receiver] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[TimeInterval] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> RulesConfig:
        names = [r.name for r in self.rules]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(sorted(dup))}")
        receivers = {r.name for r in self.receivers}
        if len(receivers) != len(self.receivers):
            raise ValueError("receiver names must be unique")
        intervals = {t.name for t in self.time_intervals}
        if self.rules and self.route.receiver is None:
            raise ValueError("route.receiver is required (the default receiver)")

        def walk(route: Route, where: str) -> None:
            if route.receiver is not None and route.receiver not in receivers:
                raise ValueError(f"{where}.receiver {route.receiver!r} is not a defined receiver")
            for name in (*route.mute_time_intervals, *route.active_time_intervals):
                if name not in intervals:
                    raise ValueError(f"{where} names time interval {name!r}, which is not defined")
            for i, child in enumerate(route.routes):
                walk(child, f"{where}.routes[{i}]")

        walk(self.route, "route")
        return self

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def receiver(self, name: str) -> Receiver:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(name)


def refused_targets(config: RulesConfig, settings: AlertSettings) -> list[str]:
    """Receiver targets (URLs and SMTP smarthosts) the outbound policy would refuse, one line each."""
    policy = TargetPolicy.from_settings(settings)
    problems = []
    for receiver in config.receivers:
        urls = [(f"webhook[{i}]", c.url.get_secret_value()) for i, c in enumerate(receiver.webhook_configs)]
        urls += [(f"slack[{i}]", c.url.get_secret_value()) for i, c in enumerate(receiver.slack_configs)]
        urls += [(f"pagerduty[{i}]", c.url) for i, c in enumerate(receiver.pagerduty_configs)]
        for integration, url in urls:
            why = check_target(url, policy)
            if why:
                problems.append(f"receiver {receiver.name} {integration}: {why}")
        for i, email in enumerate(receiver.email_configs):
            why = check_smarthost(email.smarthost, policy)
            if why:
                problems.append(f"receiver {receiver.name} email[{i}] smarthost {email.smarthost}: {why}")
    return problems


# -- loading with line numbers -------------------------------------------------------------------


def load_config(settings: AlertSettings) -> RulesConfig:
    """The configured rules file (an empty configuration when none is set)."""
    if settings.rules_file is None:
        return RulesConfig()
    return load_rules(settings.rules_file)


def load_rules(path: Path | str) -> RulesConfig:
    """Read and validate a rules file; raise :class:`RulesError` naming line and field."""
    text = yamlfile.read(path, "rules", RulesError, MAX_RULES_FILE_BYTES)
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> RulesConfig:
    return yamlfile.validate(
        text,
        source,
        RulesConfig,
        RulesError,
        not_mapping="expected a mapping with rules, route and receivers",
        whole="file",
        field=_field,
    )


def _field(loc: tuple[Any, ...]) -> str:
    """``rules[0].params``: list indexes in brackets, as the rules file's users write them."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
