"""Assembly helpers for processes: the evaluator from settings, the scheduler job, previews."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from alerts.evaluator import Evaluator
from alerts.model import Alert
from alerts.notifiers.base import Message
from alerts.notifiers.email import render as render_email
from alerts.notifiers.pagerduty import event as pagerduty_event
from alerts.notifiers.slack import payload as slack_payload
from alerts.notifiers.webhook import payload as webhook_payload
from alerts.rules import RulesConfig, RulesError, load_rules
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, check_smarthost, check_target
from storage import Store, audit

log = logging.getLogger("alerts")


def load_config(settings: AlertSettings) -> RulesConfig:
    """The configured rules file (an empty configuration when none is set)."""
    if settings.rules_file is None:
        return RulesConfig()
    return load_rules(settings.rules_file)


def build_evaluator(settings: AlertSettings, store: Store, kpi_policy: Any = None) -> Evaluator:
    """An evaluator over the configured rules; raises :class:`RulesError` for a bad rules file.

    ``kpi_policy`` is the KPI engine's SLA policy used by SLA signals (default: the shipped one).
    """
    return Evaluator(store, load_config(settings), settings, kpi_policy=kpi_policy)


class EvaluationJob:
    """The scheduler job: one ``evaluate_once`` per call; returns state changes plus notifications.

    When the rules file changes, the next run loads it; a file that no longer validates is
    reported in the log and the previous rules keep running (nothing is lost to a typo).
    """

    def __init__(self, settings: AlertSettings, store: Store, kpi_policy: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.kpi_policy = kpi_policy
        self._stamp = self._file_stamp()
        self.evaluator = build_evaluator(settings, store, kpi_policy)
        self.reload_error = ""

    def _file_stamp(self) -> tuple[float, int] | None:
        path = self.settings.rules_file
        try:
            stat = path.stat() if path is not None else None
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size) if stat is not None else None

    def reload_if_changed(self) -> bool:
        """Load the rules file again when it changed; True when new rules are in force."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            config = load_config(self.settings)
        except RulesError as exc:
            self.reload_error = str(exc)
            log.error("alert rules not reloaded, the previous rules stay in force: %s", exc)
            audit.record(
                self.store,
                "system",
                "rules.reload",
                str(self.settings.rules_file),
                outcome="failed",
                details={"reason": str(exc)[:2000]},
            )
            return False
        self.reload_error = ""
        audit.record(
            self.store,
            "system",
            "rules.reload",
            str(self.settings.rules_file),
            details={"rules": len(config.rules), "receivers": len(config.receivers)},
        )
        old = self.evaluator
        self.evaluator = Evaluator(self.store, config, self.settings, kpi_policy=self.kpi_policy)
        old.close()
        log.info("alert rules reloaded from %s: %d rule(s)", self.settings.rules_file, len(config.rules))
        return True

    def __call__(self) -> int:
        self.reload_if_changed()
        report = self.evaluator.evaluate_once()
        failed = [r for r in report.rules if r.error]
        if failed:
            log.warning("alert rules failed: %s", "; ".join(f"{r.rule}: {r.error}" for r in failed))
        return len(report.changes) + len(report.sent)


def evaluation_job(settings: AlertSettings, store: Store, kpi_policy: Any = None) -> Callable[[], int]:
    """The scheduler's alert job (see :class:`EvaluationJob`); raises RulesError for a bad rules file."""
    return EvaluationJob(settings, store, kpi_policy)


class RulePreview(BaseModel):
    """``tower alerts test``: what a rule finds at ``at`` and what it would send (nothing stored or sent)."""

    rule: str
    at: datetime
    error: str = ""
    samples: list[dict[str, Any]]
    alerts: list[Alert]
    notifications: list[dict[str, Any]]


def preview_rule(
    store: Store, settings: AlertSettings, rule: str, now: datetime, kpi_policy: Any = None
) -> RulePreview:
    """Evaluate one configured rule at ``now`` without storing or sending; KeyError for an unknown rule.

    The dashboard can serve this at ``GET /api/alerts/rules/{rule}/test?at=ISO`` so that
    ``tower alerts test`` works while ``tower serve`` holds the embedded store.
    """
    config = load_config(settings)
    chosen = config.rule(rule)
    evaluator = Evaluator(store, config, settings, kpi_policy=kpi_policy)
    try:
        result, alerts, messages = evaluator.preview(chosen, now)
    finally:
        evaluator.close()
    return RulePreview(
        rule=rule,
        at=now,
        error=result.error,
        samples=[
            {"group": s.group, "value": None if math.isnan(s.value) else s.value, "orders": s.orders}
            for s in result.samples
        ],
        alerts=alerts,
        notifications=preview_notifications(config, messages) if not result.error else [],
    )


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


def preview_notifications(config: RulesConfig, messages: list[Message]) -> list[dict[str, Any]]:
    """What each receiver integration would be sent for ``messages`` (secrets left out)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        try:
            receiver = config.receiver(message.receiver)
        except KeyError:
            continue
        for i, webhook in enumerate(receiver.webhook_configs):
            out.append(
                {
                    "receiver": receiver.name,
                    "integration": f"webhook[{i}]",
                    "payload": webhook_payload(message, webhook.max_alerts),
                }
            )
        for i, slack in enumerate(receiver.slack_configs):
            out.append(
                {
                    "receiver": receiver.name,
                    "integration": f"slack[{i}]",
                    "payload": slack_payload(message, slack),
                }
            )
        for i, pd in enumerate(receiver.pagerduty_configs):
            events = [pagerduty_event(message, a, pd) for a in message.alerts]
            for e in events:
                e["routing_key"] = "***"
            out.append({"receiver": receiver.name, "integration": f"pagerduty[{i}]", "payload": events})
        for i, email in enumerate(receiver.email_configs):
            mail = render_email(message, email)
            body = mail.get_body(preferencelist=("plain",))
            out.append(
                {
                    "receiver": receiver.name,
                    "integration": f"email[{i}]",
                    "payload": {
                        "to": list(email.to),
                        "subject": mail["Subject"],
                        "text": body.get_content() if body is not None else "",
                    },
                }
            )
    return out


__all__ = [
    "EvaluationJob",
    "RulePreview",
    "RulesError",
    "build_evaluator",
    "evaluation_job",
    "load_config",
    "preview_notifications",
    "preview_rule",
    "refused_targets",
]
