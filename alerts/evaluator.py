"""Rule evaluation and the alert state machine: inactive -> pending -> firing -> resolved.

``Evaluator.evaluate_once(now)`` runs every rule that is due at ``now`` (each at its own
``interval``), moves alert instances through their states (``for``, ``keep_firing_for``),
persists them with a history of changes, and hands firing and resolved alerts to the
:class:`~alerts.dispatch.Dispatcher`. All state lives in the store, so a restarted evaluator
continues where the last one stopped: no duplicate notification, no lost resolve.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from jinja2 import TemplateError

from alerts import signals, state
from alerts.dispatch import DEFAULT_EXTERNAL_URL, Dispatcher, Sent
from alerts.model import Alert, AlertState, StateChange, fingerprint, utc
from alerts.notifiers.base import Message
from alerts.rules import TEMPLATES, Rule, RulesConfig
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, guarded_client
from kpis.policy import Policy
from storage import Store

log = logging.getLogger(__name__)
RESOLVED_KEPT = timedelta(days=7)


@dataclass
class RuleResult:
    rule: str
    samples: list[signals.Sample] = field(default_factory=list)
    error: str = ""


@dataclass
class EvaluationReport:
    at: datetime
    rules: list[RuleResult] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


MAX_LABEL_VALUE = 256


def alert_labels(rule: Rule, group: dict[str, str]) -> dict[str, str]:
    """The alert's labels: alertname, the rule's labels, and the group's segment values.

    Segment values come from spans (anyone who can send spans controls them), so they are clipped
    to :data:`MAX_LABEL_VALUE` characters and control characters are dropped.
    """
    labels = {"alertname": rule.name, **rule.labels}
    for key, value in group.items():
        clean = "".join(ch for ch in value if ch.isprintable())[:MAX_LABEL_VALUE]
        if clean:
            labels[key] = clean
    return labels


class _Labels(dict[str, str]):
    """Labels for annotation templates: a label the alert does not have (a span without that
    attribute, an empty value) reads ``unknown <name>``, so a summary never trails off."""

    def __missing__(self, key: str) -> str:
        return f"unknown {key}"


def render_annotations(rule: Rule, labels: dict[str, str], sample: signals.Sample) -> dict[str, str]:
    context = {
        "labels": _Labels(labels),
        "value": sample.value,
        "threshold": rule.threshold,
        "orders": sample.orders,
        "rule": rule.name,
    }
    out = {}
    for key, text in rule.annotations.items():
        try:
            out[key] = TEMPLATES.from_string(text).render(context).strip()[:4000]
        except TemplateError as exc:
            out[key] = f"{text} (template error: {exc})"
    return out


class Evaluator:
    """Evaluates the rules of one rules file against one store.

    ``kpi_policy`` is the KPI engine's SLA policy; rules over SLAs, exceptions and KPIs fail (with
    the reason in their result) without it, span rules do not need it.
    """

    def __init__(
        self,
        store: Store,
        config: RulesConfig,
        settings: AlertSettings,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        kpi_policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.kpi_policy = kpi_policy
        self.config = config
        self.settings = settings
        self._own_client = client is None
        self.client = client or guarded_client(
            TargetPolicy.from_settings(settings),
            settings.notify_timeout_s,
        )
        self.dispatcher = Dispatcher(store, config, settings, self.client, sleep=sleep)
        self._last_run: dict[str, datetime] = {}

    def close(self) -> None:
        self.dispatcher.close()
        if self._own_client:
            self.client.close()

    def due(self, now: datetime) -> list[Rule]:
        return [
            r
            for r in self.config.rules
            if r.name not in self._last_run or now - self._last_run[r.name] >= r.interval
        ]

    def evaluate_once(self, now: datetime | None = None) -> EvaluationReport:
        """Run the rules due at ``now``, update and persist alert state, send what is due."""
        now = utc(now) or datetime.now(UTC)
        report = EvaluationReport(at=now)
        current = state.current_alerts(self.store, now, RESOLVED_KEPT)
        changed: dict[str, Alert] = {}
        for rule in self.due(now):
            result = self._run_rule(rule, now)
            report.rules.append(result)
            self._last_run[rule.name] = now  # a failing rule is retried at its interval, not every tick
            if result.error:
                continue  # keep the last known state; the error is logged and reported
            self._advance(rule, result.samples, now, current, changed, report.changes)
        self._retire_unknown_rules(now, current, changed, report.changes)
        state.save_alerts(self.store, list(changed.values()))
        state.record_changes(self.store, report.changes)
        live = [a for a in current.values() if a.state in (AlertState.FIRING, AlertState.RESOLVED)]
        report.sent = self.dispatcher.flush(live, now)
        return report

    def _run_rule(self, rule: Rule, now: datetime) -> RuleResult:
        try:
            samples = signals.evaluate(
                self.store, rule, now, self.settings.max_orders_per_alert, policy=self.kpi_policy
            )
        except signals.SignalError as exc:
            log.warning("rule %s: %s", rule.name, exc)
            return RuleResult(rule.name, error=str(exc))
        except Exception as exc:  # a store error must not stop the other rules
            log.exception("rule %s failed", rule.name)
            return RuleResult(rule.name, error=f"{type(exc).__name__}: {exc}")
        if not samples and rule.no_data == "alerting":
            samples = [signals.Sample({signals.NO_DATA_LABEL: "no_data"}, math.nan)]
        return RuleResult(rule.name, samples)

    def preview(
        self, rule: Rule, now: datetime | None = None
    ) -> tuple[RuleResult, list[Alert], list[Message]]:
        """What ``rule`` finds now and what it would send (nothing is stored or sent)."""
        now = utc(now) or datetime.now(UTC)
        result = self._run_rule(rule, now)
        alerts = []
        for sample in result.samples:
            if not (math.isnan(sample.value) or rule.compare(sample.value)):
                continue
            labels = alert_labels(rule, sample.group)
            alerts.append(
                Alert(
                    fingerprint=fingerprint(labels),
                    rule=rule.name,
                    labels=labels,
                    annotations=render_annotations(rule, labels, sample),
                    state=AlertState.FIRING,
                    value=0.0 if math.isnan(sample.value) else sample.value,
                    orders=sample.orders,
                    active_at=now,
                    fired_at=now,
                    last_active_at=now,
                    evaluated_at=now,
                )
            )
        messages = [
            Message(
                g.route.receiver,
                g.key,
                g.labels,
                g.alerts,
                self.settings.external_url or DEFAULT_EXTERNAL_URL,
            )
            for g in self.dispatcher.groups(alerts)
        ]
        return result, alerts, messages

    def _advance(
        self,
        rule: Rule,
        samples: list[signals.Sample],
        now: datetime,
        current: dict[str, Alert],
        changed: dict[str, Alert],
        changes: list[StateChange],
    ) -> None:
        def move(alert: Alert, to: AlertState, note: str = "") -> None:
            if alert.state is not to:
                changes.append(
                    StateChange(
                        at=now,
                        fingerprint=alert.fingerprint,
                        rule=alert.rule,
                        labels=alert.labels,
                        from_state=alert.state,
                        to_state=to,
                        value=alert.value,
                        note=note,
                    )
                )
                alert.state = to

        active: set[str] = set()
        for sample in samples:
            is_no_data = math.isnan(sample.value)
            if not is_no_data and not rule.compare(sample.value):
                continue
            labels = alert_labels(rule, sample.group)
            fp = fingerprint(labels)
            active.add(fp)
            alert = current.get(fp)
            value = 0.0 if is_no_data else sample.value
            if alert is None or alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
                alert = Alert(
                    fingerprint=fp,
                    rule=rule.name,
                    labels=labels,
                    state=AlertState.INACTIVE if alert is None else alert.state,
                    value=value,
                    active_at=now,
                    last_active_at=now,
                    evaluated_at=now,
                )
                current[fp] = alert
                move(
                    alert,
                    AlertState.PENDING,
                    "no data" if is_no_data else f"value {value:g} {rule.op} {rule.threshold:g}",
                )
            alert.value = value
            alert.orders = sample.orders
            alert.annotations = render_annotations(rule, labels, sample)
            alert.last_active_at = now
            alert.evaluated_at = now
            if alert.state is AlertState.PENDING and now - alert.active_at >= rule.for_:
                alert.fired_at = now
                alert.resolved_at = None
                move(alert, AlertState.FIRING, f"active for {now - alert.active_at}")
            changed[fp] = alert
        for fp, alert in current.items():
            if alert.rule != rule.name or fp in active:
                continue
            if alert.state is AlertState.PENDING:
                alert.evaluated_at = now
                move(alert, AlertState.INACTIVE, "condition cleared before 'for'")
                changed[fp] = alert
            elif alert.state is AlertState.FIRING:
                alert.evaluated_at = now
                if now - alert.last_active_at < rule.keep_firing_for:
                    changed[fp] = alert
                    continue
                alert.resolved_at = now
                move(alert, AlertState.RESOLVED, "condition cleared")
                changed[fp] = alert

    def _retire_unknown_rules(
        self, now: datetime, current: dict[str, Alert], changed: dict[str, Alert], changes: list[StateChange]
    ) -> None:
        names = {r.name for r in self.config.rules}
        for alert in current.values():
            if alert.rule in names or alert.state not in (AlertState.PENDING, AlertState.FIRING):
                continue
            to = AlertState.RESOLVED if alert.state is AlertState.FIRING else AlertState.INACTIVE
            changes.append(
                StateChange(
                    at=now,
                    fingerprint=alert.fingerprint,
                    rule=alert.rule,
                    labels=alert.labels,
                    from_state=alert.state,
                    to_state=to,
                    value=alert.value,
                    note="rule no longer configured",
                )
            )
            alert.state = to
            alert.evaluated_at = now
            if to is AlertState.RESOLVED:
                alert.resolved_at = now
            changed[alert.fingerprint] = alert
