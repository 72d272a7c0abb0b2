"""PagerDuty Events API v2: one event per alert, keyed by a stable ``dedup_key`` from the fingerprint.

Firing alerts ``trigger`` (or ``acknowledge`` once acknowledged in the tower), resolved alerts
``resolve``. The severity label maps to PagerDuty's critical/error/warning/info; links point back
to the alert and the affected orders in the dashboard. Success is HTTP 202.
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.model import Alert, AlertState
from alerts.notifiers.base import Delivery, HttpPoster, Message, redact, rfc3339
from alerts.rules import PagerDutyConfig

SUMMARY_MAX = 1024
MAX_ORDER_LINKS = 5


def dedup_key(alert: Alert) -> str:
    return f"order-control-tower-{alert.fingerprint}"


def event(message: Message, alert: Alert, config: PagerDutyConfig) -> dict[str, Any]:
    key = config.routing_key.get_secret_value()
    if alert.state is AlertState.RESOLVED:
        return {"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key(alert)}
    if alert.ack is not None and config.send_acknowledged:
        return {"routing_key": key, "event_action": "acknowledge", "dedup_key": dedup_key(alert)}
    summary = alert.annotations.get("summary") or f"{alert.name} {alert.labels}"
    severity = config.severity_map.get(alert.labels.get("severity", ""), config.default_severity)
    links = [{"href": message.alert_url(alert), "text": f"Alert {alert.name} in Order Control Tower"}]
    links += [{"href": message.order_url(o), "text": f"Order {o}"} for o in alert.orders[:MAX_ORDER_LINKS]]
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        links.append({"href": runbook, "text": "Runbook"})
    payload: dict[str, Any] = {
        "summary": summary[:SUMMARY_MAX],
        "source": alert.labels.get("system") or alert.labels.get("warehouse") or "order-control-tower",
        "severity": severity,
        "timestamp": rfc3339(alert.fired_at or alert.active_at),
        "class": alert.name,
        "custom_details": {
            "labels": dict(sorted(alert.labels.items())),
            "annotations": dict(sorted(alert.annotations.items())),
            "value": alert.value,
            "orders": alert.orders,
        },
    }
    if "team" in alert.labels:
        payload["group"] = alert.labels["team"]
    if "stage" in alert.labels:
        payload["component"] = alert.labels["stage"]
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "payload": payload,
        "client": config.client,
        "client_url": message.alert_url(alert),
        "links": links,
    }


class PagerDutyNotifier:
    kind = "pagerduty"

    def __init__(self, config: PagerDutyConfig, client: httpx.Client) -> None:
        self.config = config
        self.send_resolved = config.send_resolved
        self.poster = HttpPoster(client)

    def notify(self, message: Message) -> Delivery:
        worst: Delivery | None = None
        for alert in message.alerts:
            if alert.state is AlertState.RESOLVED and not self.config.send_resolved:
                continue
            result = self.poster.post(
                self.config.url, event(message, alert, self.config), ok=lambda r: r.status_code == 202
            )
            if not result.ok and (worst is None or (worst.retryable and not result.retryable)):
                worst = result
            if not result.ok and not result.retryable:
                break
        return worst or Delivery.success(202)

    def target(self) -> str:
        return redact(self.config.url)
