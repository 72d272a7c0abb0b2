"""``tower alerts test``: what a rule finds now and what it would send, with nothing stored or sent."""

from __future__ import annotations

import math
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
from alerts.rules import RulesConfig, load_config
from alerts.settings import AlertSettings
from kpis.policy import Policy
from storage import Store


class RulePreview(BaseModel):
    """``tower alerts test``: what a rule finds at ``at`` and what it would send (nothing stored or sent)."""

    rule: str
    at: datetime
    error: str = ""
    samples: list[dict[str, Any]]
    alerts: list[Alert]
    notifications: list[dict[str, Any]]


def preview_rule(
    store: Store, settings: AlertSettings, rule: str, now: datetime, kpi_policy: Policy
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
