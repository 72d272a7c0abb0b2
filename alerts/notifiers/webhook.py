"""Generic webhook with Alertmanager's payload (version "4"), so existing receivers work unchanged.

Each alert also carries ``orders`` (id and dashboard link of the affected orders); receivers
written for Alertmanager ignore the extra field.
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.model import Alert
from alerts.notifiers.base import Delivery, HttpPoster, Message, redact, rfc3339
from alerts.rules import WebhookConfig


def alert_json(message: Message, alert: Alert) -> dict[str, Any]:
    return {
        "status": "firing" if alert.state.value == "firing" else "resolved",
        "labels": dict(sorted(alert.labels.items())),
        "annotations": dict(sorted(alert.annotations.items())),
        "startsAt": rfc3339(alert.fired_at or alert.active_at),
        "endsAt": rfc3339(alert.resolved_at),
        "generatorURL": message.alert_url(alert),
        "fingerprint": alert.fingerprint,
        "orders": [{"id": o, "url": message.order_url(o)} for o in alert.orders],
    }


def payload(message: Message, max_alerts: int = 0) -> dict[str, Any]:
    alerts = message.alerts
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": message.group_key,
        "truncatedAlerts": truncated,
        "status": message.status,
        "receiver": message.receiver,
        "groupLabels": dict(sorted(message.group_labels.items())),
        "commonLabels": message.common_labels,
        "commonAnnotations": message.common_annotations,
        "externalURL": message.external_url,
        "alerts": [alert_json(message, a) for a in alerts],
    }


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, config: WebhookConfig, client: httpx.Client) -> None:
        self.config = config
        self.send_resolved = config.send_resolved
        headers = (
            {"Authorization": f"Bearer {config.bearer_token.get_secret_value()}"}
            if config.bearer_token
            else {}
        )
        self.poster = HttpPoster(client, headers)

    def notify(self, message: Message) -> Delivery:
        return self.poster.post(self.config.url.get_secret_value(), payload(message, self.config.max_alerts))

    def target(self) -> str:
        return redact(self.config.url.get_secret_value())
