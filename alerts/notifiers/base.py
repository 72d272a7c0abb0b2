"""What every notifier shares: the message of one alert group, the delivery outcome, HTTP posting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from alerts.model import Alert, AlertState
from alerts.ssrf import TargetRefused, check_scheme

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_REPLY_BYTES = 64 * 1024


def rfc3339(ts: datetime | None) -> str:
    if ts is None:
        return ZERO_TIME
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Message:
    """One notification: an alert group for one receiver, with links back to the dashboard."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[Alert]
    external_url: str
    summary_of_groups: int = 0  # > 0: a summary of this many groups over the notification cap

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state is AlertState.FIRING]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.state is AlertState.RESOLVED]

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    @property
    def title(self) -> str:
        name = self.group_labels.get("alertname") or self.common_labels.get("alertname", "alerts")
        extra = " ".join(f"{k}={v}" for k, v in self.group_labels.items() if k != "alertname")
        count = len(self.firing) if self.firing else len(self.resolved)
        if self.summary_of_groups:
            return (
                f"[{self.status.upper()}:{count}] {name}: summary of {self.summary_of_groups} more alert groups "
                "(notification cap reached)"
            )
        return f"[{self.status.upper()}:{count}] {name}" + (f" ({extra})" if extra else "")

    def alert_url(self, alert: Alert) -> str:
        # the dashboard's alerts page (web/routers/alerts.py), pointed at this alert
        return f"{self.external_url.rstrip('/')}/alerts?fingerprint={alert.fingerprint}"

    def order_url(self, order_id: str) -> str:
        return f"{self.external_url.rstrip('/')}/orders/{quote(order_id, safe='')}"


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in maps[1:])}


@dataclass
class Delivery:
    ok: bool
    retryable: bool = False
    error: str = ""
    status_code: int | None = None
    retry_after: float | None = None

    @classmethod
    def success(cls, status_code: int | None = None) -> Delivery:
        return cls(ok=True, status_code=status_code)


class Notifier(Protocol):
    kind: str
    send_resolved: bool

    def notify(self, message: Message) -> Delivery: ...

    def target(self) -> str: ...


@dataclass
class HttpPoster:
    """Posts JSON through the SSRF-guarded client and classifies the outcome."""

    client: httpx.Client
    extra_headers: dict[str, str] = field(default_factory=dict)

    def post(self, url: str, body: Any, ok: Callable[[httpx.Response], bool] | None = None) -> Delivery:
        try:
            check_scheme(url)
            request = self.client.build_request("POST", url, json=body, headers=self.extra_headers)
            response = self.client.send(request, stream=True)
            try:
                head = b""
                for chunk in response.iter_bytes():  # a receiver's reply is read up to a small bound
                    head += chunk
                    if len(head) >= MAX_REPLY_BYTES:
                        break
            finally:
                response.close()
        except TargetRefused as exc:
            return Delivery(ok=False, retryable=False, error=str(exc))
        except httpx.InvalidURL as exc:
            return Delivery(ok=False, retryable=False, error=f"invalid target URL: {exc}")
        except httpx.TimeoutException as exc:
            return Delivery(ok=False, retryable=True, error=f"timeout: {type(exc).__name__}")
        except httpx.UnsupportedProtocol as exc:
            return Delivery(ok=False, retryable=False, error=str(exc))
        except httpx.TransportError as exc:
            return Delivery(ok=False, retryable=True, error=f"connection failed: {exc}")
        return classify(response, head, ok)


def classify(
    response: httpx.Response, body: bytes, ok: Callable[[httpx.Response], bool] | None = None
) -> Delivery:
    """Success, or a failure that says whether retrying could help (429 and 5xx do; 3xx and 4xx not)."""
    code = response.status_code
    if 200 <= code < 300 and (ok is None or ok(response)):
        return Delivery.success(code)
    snippet = body[:300].decode("utf-8", "replace").strip()
    if 300 <= code < 400:
        where = response.headers.get("location", "")
        return Delivery(
            ok=False,
            retryable=False,
            status_code=code,
            error=f"HTTP {code} redirect to {where!r} not followed",
        )
    retry_after = None
    if "retry-after" in response.headers:
        try:
            retry_after = float(response.headers["retry-after"])
        except ValueError:
            retry_after = None
    retryable = code == 429 or code >= 500
    return Delivery(
        ok=False,
        retryable=retryable,
        status_code=code,
        error=f"HTTP {code}: {snippet}",
        retry_after=retry_after,
    )


def redact(url: str) -> str:
    """Scheme, host and port only: target URLs often carry secrets in the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
