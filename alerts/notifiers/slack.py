"""Slack incoming webhook with Block Kit.

Everything that came from spans or rules (labels, annotations, order ids) is escaped for mrkdwn
(``&``, ``<``, ``>``), so a label value cannot inject links or @-mentions. Block Kit limits are
respected: header text <= 150 characters, section text <= 3000, at most 50 blocks.
"""

from __future__ import annotations

from typing import Any

import httpx

from alerts.model import Alert
from alerts.notifiers.base import Delivery, HttpPoster, Message, redact
from alerts.rules import SlackConfig

MAX_ALERT_SECTIONS = 10
HEADER_MAX = 150
SECTION_MAX = 3000


def escape(text: str) -> str:
    """Escape Slack's control characters in user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str, text: str) -> str:
    # URLs are built by the tower from the external URL and escaped ids; the label is user text.
    return f"<{escape(url)}|{escape(text).replace('|', '¦')}>"


def _alert_section(message: Message, alert: Alert) -> dict[str, Any]:
    summary = alert.annotations.get("summary") or alert.name
    state = "RESOLVED" if alert.state.value == "resolved" else ("ACKED" if alert.ack else "FIRING")
    lines = [f"*{state}* {escape(summary)}"]
    description = alert.annotations.get("description")
    if description:
        lines.append(escape(description))
    labels = ", ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(alert.labels.items()))
    lines.append(f"`{labels}`")
    if alert.orders:
        shown = alert.orders[:5]
        more = len(alert.orders) - len(shown)
        lines.append(
            "Orders: "
            + ", ".join(_link(message.order_url(o), o) for o in shown)
            + (f" and {more} more" if more > 0 else "")
        )
    runbook = alert.annotations.get("runbook_url")
    links = [_link(message.alert_url(alert), "Alert")]
    if runbook and runbook.startswith(("https://", "http://")):
        links.append(_link(runbook, "Runbook"))
    lines.append(" | ".join(links))
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), SECTION_MAX)}}


def payload(message: Message, config: SlackConfig) -> dict[str, Any]:
    title = message.title
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_MAX), "emoji": False}}
    ]
    shown = message.alerts[:MAX_ALERT_SECTIONS]
    for alert in shown:
        blocks.append(_alert_section(message, alert))
    if len(message.alerts) > len(shown):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"and {len(message.alerts) - len(shown)} more alerts"}
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open alerts"},
                    "url": f"{message.external_url.rstrip('/')}/alerts",
                }
            ],
        }
    )
    body: dict[str, Any] = {"text": escape(title), "blocks": blocks}
    if config.channel:
        body["channel"] = config.channel
    if config.username:
        body["username"] = config.username
    return body


class SlackNotifier:
    kind = "slack"

    def __init__(self, config: SlackConfig, client: httpx.Client) -> None:
        self.config = config
        self.send_resolved = config.send_resolved
        self.poster = HttpPoster(client)

    def notify(self, message: Message) -> Delivery:
        return self.poster.post(self.config.url.get_secret_value(), payload(message, self.config))

    def target(self) -> str:
        return redact(self.config.url.get_secret_value())
