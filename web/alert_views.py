"""What the on-call pages show: alerts with their rule's unit, severity and suppression, the rules
with their state and last evaluation, an alert's history chart."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alerts import state as alert_state
from alerts.dispatch import mark_inhibited
from alerts.evaluator import alert_labels
from alerts.model import Alert, AlertState, StateChange, fingerprint
from alerts.preview import RulePreview
from alerts.rules import Rule, RulesConfig, RulesError, ValueUnit, load_rules
from alerts.settings import AlertSettings
from kpis import reports
from storage import Store
from web import charts
from web.formatting import fmt_quantity

SEVERITIES = ("critical", "warning", "info")
ALERT_JOB = "alerts_evaluate"


@dataclass
class LoadedRules:
    config: RulesConfig | None
    error: str = ""
    path: Path | None = None


class RulesCache:
    """The configured rules file, read again only when it changes (as the evaluator job does)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[str, float, int] | None = None
        self._loaded = LoadedRules(None)

    def get(self, settings: AlertSettings | None) -> LoadedRules:
        path = settings.rules_file if settings is not None else None
        if path is None:
            return LoadedRules(None)
        try:
            stat = path.stat()
        except OSError as exc:
            return LoadedRules(None, f"cannot read {path}: {exc.strerror}", path)
        stamp = (str(path), stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp == self._stamp:
                return self._loaded
        try:
            loaded = LoadedRules(load_rules(path), "", path)
        except RulesError as exc:
            loaded = LoadedRules(None, str(exc), path)
        with self._lock:
            self._stamp, self._loaded = stamp, loaded
        return loaded


def severity(alert_or_rule: Alert | Rule) -> str:
    """The severity label (critical, warning, info, or as written), ``none`` when absent."""
    return alert_or_rule.labels.get("severity", "") or "none"


def severity_class(value: str) -> str:
    return value if value in SEVERITIES else "other"


def display_state(alert: Alert) -> str:
    """What the alert is for the person on call: inhibited and silenced alerts are not "firing"."""
    if alert.state in (AlertState.FIRING, AlertState.PENDING):
        if "inhibited" in alert.suppressed_by:
            return "inhibited"
        if any(s.startswith("muted") for s in alert.suppressed_by):
            return "muted"
        if alert.suppressed_by:
            return "silenced"
    return alert.state.value


@dataclass
class AlertRow:
    alert: Alert
    state: str
    severity: str
    severity_class: str
    value: str
    unit: ValueUnit


def unit_of(config: RulesConfig | None, rule: str) -> ValueUnit:
    if config is None:
        return "number"
    try:
        return config.rule(rule).unit
    except KeyError:
        return "number"


def alert_rows(alerts: list[Alert], config: RulesConfig | None) -> list[AlertRow]:
    """Alerts as rows: inhibition applied (as the dispatcher would now), values in their units."""
    if config is not None:
        mark_inhibited(config, alerts)
    rows = []
    for alert in alerts:
        unit = unit_of(config, alert.rule)
        sev = severity(alert)
        rows.append(
            AlertRow(
                alert=alert,
                state=display_state(alert),
                severity=sev,
                severity_class=severity_class(sev),
                value=fmt_quantity(alert.value, unit),
                unit=unit,
            )
        )
    return rows


@dataclass
class RuleRow:
    rule: Rule
    severity: str
    severity_class: str
    condition: str
    state: str  # firing, pending, ok
    firing: int = 0
    pending: int = 0
    inhibited: int = 0
    last_evaluation: datetime | None = None
    runbook: str = ""


def condition_text(rule: Rule) -> str:
    threshold = fmt_quantity(rule.threshold, rule.unit)
    text = f"{rule.signal} {rule.op} {threshold}"
    if rule.group_by:
        text += f" per {', '.join(rule.group_by)}"
    if rule.for_.total_seconds():
        text += f" for {fmt_quantity(rule.for_.total_seconds(), 'seconds')}"
    return text


def rule_rows(store: Store, config: RulesConfig) -> tuple[list[RuleRow], datetime | None]:
    """Each rule with its alerts now and when it was last evaluated (its newest alert's
    evaluation, else the alert job's last run, which evaluates every due rule)."""
    alerts = alert_state.list_alerts(store, limit=10_000)
    mark_inhibited(config, alerts)
    runs = reports.job_runs(store, ALERT_JOB, 1)
    last_run = runs[0].started_at if runs else None
    rows = []
    for rule in config.rules:
        mine = [a for a in alerts if a.rule == rule.name]
        live = [a for a in mine if display_state(a) in ("firing", "pending")]
        firing = sum(1 for a in live if a.state is AlertState.FIRING)
        pending = len(live) - firing
        inhibited = sum(1 for a in mine if display_state(a) in ("inhibited", "silenced", "muted"))
        evaluated = max((a.evaluated_at for a in mine), default=None)
        if last_run is not None and (evaluated is None or last_run > evaluated):
            evaluated = last_run
        sev = severity(rule)
        rows.append(
            RuleRow(
                rule=rule,
                severity=sev,
                severity_class=severity_class(sev),
                condition=condition_text(rule),
                state="firing"
                if firing
                else ("pending" if pending else ("suppressed" if inhibited else "ok")),
                firing=firing,
                pending=pending,
                inhibited=inhibited,
                last_evaluation=evaluated,
                runbook=rule.annotations.get("runbook_url", ""),
            )
        )
    return rows, last_run


@dataclass
class AlertPage:
    row: AlertRow
    history: list[StateChange]
    chart: charts.AlertHistoryChart
    runbook: str
    rule: Rule | None
    silence_matchers: str
    annotations: dict[str, str] = field(default_factory=dict)


def alert_page(store: Store, fingerprint: str, config: RulesConfig | None, now: datetime) -> AlertPage:
    """One alert, its history (newest first) and chart; AlertNotFound when unknown."""
    alert = alert_state.get_alert(store, fingerprint, now=now)
    if config is not None and alert.state is AlertState.FIRING:
        others = alert_state.list_alerts(store, [AlertState.FIRING], limit=10_000, now=now)
        merged = [alert] + [a for a in others if a.fingerprint != alert.fingerprint]
        mark_inhibited(config, merged)
    [row] = alert_rows([alert], None)
    unit = unit_of(config, alert.rule)
    row.value, row.unit = fmt_quantity(alert.value, unit), unit
    history = alert_state.alert_history(store, fingerprint=fingerprint, limit=500)
    changes = [(c.at, c.to_state.value, c.value) for c in history if c.from_state != c.to_state]
    if not changes:
        changes = [(alert.active_at, alert.state.value, alert.value)]
    chart = charts.alert_history_chart(changes, now, lambda v: fmt_quantity(v, unit))
    rule = None
    if config is not None:
        try:
            rule = config.rule(alert.rule)
        except KeyError:
            rule = None
    runbook = alert.annotations.get("runbook_url", "") or (
        rule.annotations.get("runbook_url", "") if rule else ""
    )
    matchers = "\n".join(f'{k}="{_quote(v)}"' for k, v in sorted(alert.labels.items()))
    annotations = {k: v for k, v in alert.annotations.items() if k not in ("summary", "runbook_url")}
    return AlertPage(
        row=row,
        history=history,
        chart=chart,
        runbook=runbook,
        rule=rule,
        silence_matchers=matchers,
        annotations=annotations,
    )


@dataclass
class PreviewSample:
    group: dict[str, str]
    value: float | None
    fires: bool
    summary: str


def preview_samples(rule: Rule, preview: RulePreview) -> list[PreviewSample]:
    """The preview's samples, each with whether it would fire and the summary it would carry."""
    by_fp = {a.fingerprint: a for a in preview.alerts}
    out = []
    for sample in preview.samples:
        group = {str(k): str(v) for k, v in dict(sample.get("group") or {}).items()}
        alert = by_fp.get(fingerprint(alert_labels(rule, group)))
        value = sample.get("value")
        out.append(
            PreviewSample(
                group=group,
                value=None if value is None else float(value),
                fires=alert is not None,
                summary=alert.annotations.get("summary", "") if alert else "",
            )
        )
    return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
