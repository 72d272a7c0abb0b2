"""Carrier tracking webhook agent: tracking events (JSON over HTTP) -> hop spans keyed by tracking number.

Built-in mappings for the common multi-carrier shapes (EasyPost-style *Event*: ``{"id", "object":
"Event", "description": "tracker.updated", "result": {"tracking_code", "status", "carrier",
"shipment_id", "tracking_details": [...]}}``; AfterShip-style ``{"event": "tracking_update",
"event_id", "msg": {"tracking_number", "slug", "tag", "checkpoints": [...]}}``) and a configurable
dotted-path field mapping for any other JSON body.

Requests are signed the Standard Webhooks way (https://www.standardwebhooks.com/): headers
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, key = base64 of the ``whsec_`` secret); a
timestamp further than ``tolerance_s`` from now is refused, and the webhook ids accepted are
kept durably for longer than that window, so a captured request can never be replayed. Carriers
that only sign the body (``signature_scheme: hmac-sha256``) are accepted too, with their event ids
kept for ``replay_retention_days``. Without a secret the webhook refuses to start unless
``allow_unsigned: true`` (and then warns at every start).

Answers: 200 accepted / duplicate / ignored; 400 not JSON (NaN and Infinity are not JSON); 401 bad
or missing signature, timestamp outside the tolerance; 413 too large; 422 valid JSON that cannot
become a span (missing fields, an event time outside the window the store keeps) or spans the
collector refused (its reason in the answer) -- the sender must not retry those; 503 (with
Retry-After) only while the collector cannot be reached or is busy, so the carrier retries.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import math
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collector.agents.emitter import AgentHop, AttrValue, Emitter
from collector.agents.settings import CarrierAgentSettings, FieldMapping, standard_webhooks_key
from collector.agents.state import OpenKeys, SeenIds
from collector.serving import ServerLimits, uvicorn_options
from storage.errors import TowerError
from tracing import conventions as c
from tracing.otlp_http import EmitError, SpansRejected

log = logging.getLogger(__name__)

SHIPMENT_EVENT_ID = "shipment.event.id"  # the carrier's event id (replays are counted once)
SHIPMENT_CARRIER_STATUS = "shipment.carrier_status"  # the carrier's own status word
SHIPMENT_STATUS_MESSAGE = "shipment.status_message"

STATUSES = (
    "label_created",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
    "delivered",
    "exception",
    "unknown",
)
_SHIP_STATUSES = {"label_created", "picked_up"}

EASYPOST = FieldMapping(
    event_id="id",
    tracking_number="result.tracking_code",
    status="result.status",
    carrier="result.carrier",
    shipment_id="result.shipment_id",
    order_id="result.order_id",
    occurred_at="result.tracking_details.-1.datetime",
    message="result.tracking_details.-1.message",
    status_map={
        "pre_transit": "label_created",
        "in_transit": "in_transit",
        "out_for_delivery": "out_for_delivery",
        "delivered": "delivered",
        "available_for_pickup": "available_for_pickup",
        "return_to_sender": "exception",
        "failure": "exception",
        "error": "exception",
        "cancelled": "exception",
        "unknown": "unknown",
    },
)
_EASYPOST_EVENTS = {"tracker.created", "tracker.updated"}

AFTERSHIP = FieldMapping(
    event_id="event_id",
    tracking_number="msg.tracking_number",
    status="msg.tag",
    carrier="msg.slug",
    order_id="msg.order_number",
    occurred_at="msg.checkpoints.-1.checkpoint_time",
    message="msg.checkpoints.-1.message",
    status_map={
        "InfoReceived": "label_created",
        "InTransit": "in_transit",
        "OutForDelivery": "out_for_delivery",
        "AvailableForPickup": "available_for_pickup",
        "Delivered": "delivered",
        "AttemptFail": "exception",
        "Exception": "exception",
        "Expired": "exception",
        "Pending": "unknown",
    },
)
PRESETS = {"easypost": EASYPOST, "aftership": AFTERSHIP}


class WebhookError(TowerError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TrackingEvent:
    event_id: str
    tracking_number: str
    status: str  # one of STATUSES (or the carrier's word, normalised, when unmapped)
    carrier_status: str
    carrier: str = ""
    shipment_id: str = ""
    order_id: str = ""
    occurred_at_ns: int | None = None
    message: str = ""


def pick(data: Any, path: str) -> Any:
    """Value at a dotted path (``result.tracking_details.-1.datetime``); None when absent."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if cur is None:
            return None
    return cur


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> int | None:
    """Epoch ns from ISO 8601 text or epoch seconds/milliseconds; None when absent.

    Raises WebhookError(422) for a value that is present but is not a time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WebhookError(
            422, f"event time must be ISO 8601 text or epoch seconds, got {type(value).__name__}"
        )
    if isinstance(value, int):  # exact: any size of integer is a time (perhaps far outside the window)
        return value * 1_000_000 if abs(value) > 10**11 else value * 1_000_000_000
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > 1e15:
            raise WebhookError(422, "event time is not a number of seconds or milliseconds since 1970")
        seconds = value / 1000 if abs(value) > 1e11 else value
        return int(seconds * 1_000_000) * 1000
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookError(422, "event time is not ISO 8601 text") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000


def normalise_status(raw: str, status_map: dict[str, str]) -> str:
    if raw in status_map:
        return status_map[raw]
    word = raw.strip().lower().replace(" ", "_").replace("-", "_")
    return status_map.get(word, word or "unknown")


def map_event(body: Any, mapping: FieldMapping) -> TrackingEvent:
    """The tracking event described by a decoded body; raises WebhookError(422) when fields are missing."""
    if not isinstance(body, dict):
        raise WebhookError(400, f"body must be a JSON object, got {type(body).__name__}")

    def text(path: str | None) -> str:
        if not path:
            return ""
        value = pick(body, path)
        if isinstance(value, dict | list):
            return ""
        return "" if value is None else str(value).strip()

    missing = [
        name
        for name, path in (
            ("event_id", mapping.event_id),
            ("tracking_number", mapping.tracking_number),
            ("status", mapping.status),
        )
        if not text(path)
    ]
    if missing:
        raise WebhookError(422, "missing " + ", ".join(f"{m} ({getattr(mapping, m)})" for m in missing))
    raw_status = text(mapping.status)
    return TrackingEvent(
        event_id=text(mapping.event_id)[:200],
        tracking_number=text(mapping.tracking_number)[:100],
        status=normalise_status(raw_status, mapping.status_map),
        carrier_status=raw_status[:100],
        carrier=text(mapping.carrier)[:100],
        shipment_id=text(mapping.shipment_id)[:100],
        order_id=text(mapping.order_id)[:100],
        occurred_at_ns=parse_time(pick(body, mapping.occurred_at)) if mapping.occurred_at else None,
        message=text(mapping.message)[:500],
    )


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` (what a sender puts in the signature header)."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    value = header.strip()
    for prefix in ("hmac-sha256-hex=", "sha256="):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
            break
    key = unicodedata.normalize("NFKD", secret).encode()
    digest = hmac.new(key, body, hashlib.sha256).digest()
    hex_ok = hmac.compare_digest(digest.hex(), value.lower())
    b64_ok = hmac.compare_digest(base64.b64encode(digest).decode(), value)
    return hex_ok or b64_ok


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value a Standard Webhooks sender puts on ``body``."""
    key = standard_webhooks_key(secret)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance_s: float
) -> str:
    """The webhook id of a correctly signed, timely request; raises WebhookError(401) otherwise."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    missing = [name for name, value in (("webhook-id", msg_id), ("webhook-timestamp", stamp)) if not value]
    if missing or not signatures:
        raise WebhookError(401, "missing " + ", ".join(missing or ["webhook-signature"]) + " header")
    if not stamp.isdigit() or len(stamp) > 12:
        raise WebhookError(401, "webhook-timestamp must be Unix seconds")
    if abs(now - int(stamp)) > tolerance_s:
        raise WebhookError(
            401,
            f"webhook-timestamp is more than {tolerance_s:g} s away from now (replayed or clock skew)",
        )
    if len(msg_id) > 256:
        raise WebhookError(401, "webhook-id longer than 256 characters")
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return msg_id
    raise WebhookError(401, "no valid v1 signature in webhook-signature")


def event_hop(
    event: TrackingEvent, system_instance: str, received_ns: int, resolves_exception: bool = False
) -> AgentHop:
    """The hop span of one tracking event; an exception status opens a carrier exception, and the
    next event of the same tracking number that is not an exception resolves it."""
    start = event.occurred_at_ns or received_ns
    stage = c.Stage.SHIP if event.status in _SHIP_STATUSES else c.Stage.DELIVER
    attrs: dict[str, AttrValue] = {
        c.SYSTEM_KIND: c.SystemKind.CARRIER.value,
        c.SYSTEM_INSTANCE: (event.carrier.lower() or system_instance),
        c.STAGE: stage.value,
        c.STATUS: event.status,
        c.SHIPMENT_TRACKING_NUMBER: event.tracking_number,
        SHIPMENT_EVENT_ID: event.event_id,
        SHIPMENT_CARRIER_STATUS: event.carrier_status,
    }
    for key, value in (
        (c.SHIPMENT_CARRIER, event.carrier),
        (c.SHIPMENT_ID, event.shipment_id),
        (c.ORDER_ID, event.order_id),
        (SHIPMENT_STATUS_MESSAGE, event.message),
    ):
        if value:
            attrs[key] = value
    hop = AgentHop(
        name=f"carrier {event.status}",
        seed=f"carrier:{event.event_id}",
        start_ns=start,
        end_ns=start,
        attributes=attrs,
    )
    if event.status == "exception":
        attrs[c.EXCEPTION_TYPE] = c.ExceptionType.CARRIER_EXCEPTION.value
        attrs[c.EXCEPTION_OUTCOME] = c.ExceptionOutcome.OPENED.value
        attrs[c.ERROR_TYPE] = c.ExceptionType.CARRIER_EXCEPTION.value
        hop.error = f"carrier exception for {event.tracking_number}: {event.message or event.carrier_status}"
    elif resolves_exception:
        attrs[c.EXCEPTION_TYPE] = c.ExceptionType.CARRIER_EXCEPTION.value
        attrs[c.EXCEPTION_OUTCOME] = c.ExceptionOutcome.RESOLVED.value
    return hop


def _not_tracking(mapping: str, data: Any) -> str:
    """The event type of a preset body that carries no tracking update (answered 200, not stored)."""
    if not isinstance(data, dict):
        return ""
    if mapping == "easypost" and data.get("object") == "Event":
        description = str(data.get("description") or "")
        return description if description and description not in _EASYPOST_EVENTS else ""
    if mapping == "aftership":
        event = str(data.get("event") or "")
        return event if event and event != "tracking_update" else ""
    return ""


class WebhookConfigError(TowerError, ValueError):
    """The webhook's settings cannot be served safely; the message says what to set."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def decode_json(body: bytes) -> Any:
    """Strict JSON: NaN, Infinity and numbers that overflow are refused (WebhookError 400)."""
    try:
        return json.loads(body, parse_constant=_no_constants, parse_float=_finite)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WebhookError(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise WebhookError(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:
        raise WebhookError(400, f"malformed JSON: {exc}") from None


class CarrierWebhook:
    """The webhook's logic, independent of the HTTP server: verify, decode, map, de-duplicate, emit.

    ``clock`` (epoch seconds) judges webhook timestamps and keeps replay records; the emitter's
    window judges event times.
    """

    def __init__(
        self,
        settings: CarrierAgentSettings,
        emitter: Emitter,
        state_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = settings.secret.get_secret_value()
        if not secret and not settings.allow_unsigned:
            raise WebhookConfigError(
                "the carrier webhook has no secret: set collector.agents.carrier.secret (Standard Webhooks "
                "'whsec_...' key shared with the sender), or allow_unsigned: true to accept unsigned events"
            )
        self.settings = settings
        self.emitter = emitter
        self.clock = clock
        self._key = (
            standard_webhooks_key(secret)
            if secret and settings.signature_scheme == "standard-webhooks"
            else b""
        )
        custom = settings.field_mapping if settings.mapping == "custom" else None
        self.mapping: FieldMapping = custom or PRESETS[settings.mapping]
        self.seen = SeenIds(state_dir / "carrier-seen-ids.sqlite3", clock=clock)
        self.open_exceptions = OpenKeys(state_dir / "carrier-open-exceptions.sqlite3")
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "tower_agent_carrier_requests",
            "Webhook requests by outcome (accepted, duplicate, ignored, or the HTTP status of a refusal)",
            ["outcome"],
            registry=self.registry,
        )

    @property
    def unsigned(self) -> bool:
        return not self.settings.secret.get_secret_value()

    def warnings(self) -> list[str]:
        """What a start must tell the operator about this webhook's protection."""
        if self.unsigned:
            return [
                "carrier webhook accepts UNSIGNED events (allow_unsigned: true): anyone who can reach "
                f"{self.settings.host}:{self.settings.port} can add tracking events; set a secret"
            ]
        if self.settings.signature_scheme == "hmac-sha256":
            return [
                "carrier webhook signatures (hmac-sha256) cover no timestamp: a captured request is refused as "
                f"a duplicate only while its event id is kept ({self.settings.replay_retention_days:g} days)"
            ]
        return []

    def count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self._requests.labels(outcome).inc()

    def handle(self, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body). ``headers`` keys are lower-case."""
        try:
            return self._handle(body, {k.lower(): v for k, v in (headers or {}).items()})
        except WebhookError as exc:
            self.count(str(exc.status))
            return exc.status, {"error": str(exc)}

    def _verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """The signed webhook id (Standard Webhooks), None for the other schemes; raises 401."""
        if self.unsigned:
            return None
        if self.settings.signature_scheme == "standard-webhooks":
            return verify_standard(self._key, headers, body, self.clock(), self.settings.tolerance_s)
        secret = self.settings.secret.get_secret_value()
        if not signature_ok(secret, body, headers.get(self.settings.signature_header.lower())):
            raise WebhookError(401, f"missing or bad signature in {self.settings.signature_header}")
        return None

    def _handle(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if len(body) > self.settings.max_body_bytes:
            raise WebhookError(413, f"body larger than {self.settings.max_body_bytes} bytes")
        webhook_id = self._verify(body, headers)
        if webhook_id is not None and f"wh:{webhook_id}" in self.seen:
            self.count("duplicate")
            return 200, {"status": "duplicate", "webhook_id": webhook_id}
        data = decode_json(body)
        ignored = _not_tracking(self.settings.mapping, data)
        if ignored:
            self.count("ignored")
            return 200, {"status": "ignored", "reason": f"event {ignored[:100]} is not a tracking event"}
        event = map_event(data, self.mapping)
        if event.occurred_at_ns is not None:
            problem = self.emitter.window.problem(event.occurred_at_ns, "event time")
            if problem:
                raise WebhookError(422, problem)
        with self._lock:
            if f"ev:{event.event_id}" in self.seen:
                self.count("duplicate")
                return 200, {"status": "duplicate", "event_id": event.event_id}
            was_open = event.tracking_number in self.open_exceptions
            received = int(self.clock() * 1e9)
            hop = event_hop(event, self.settings.system_instance, received, resolves_exception=was_open)
            try:
                spans = self.emitter.emit([hop])
            except SpansRejected as exc:
                log.warning("carrier event %r refused: %s", event.event_id, exc.reason)
                raise WebhookError(422, f"event not stored: {exc.reason}") from None
            except EmitError as exc:
                log.warning("carrier event %r not acknowledged: %s", event.event_id, exc)
                self.count("503")
                return 503, {"error": "collector unavailable, retry later"}
            keys = [f"ev:{event.event_id}"]
            if webhook_id is not None:
                keys.append(f"wh:{webhook_id}")
            self.seen.add(
                *keys,
                retention_s=max(self.settings.replay_retention_days * 86400, 2 * self.settings.tolerance_s),
            )
            if event.status == "exception":
                self.open_exceptions.add(event.tracking_number)
            elif was_open:
                self.open_exceptions.discard(event.tracking_number)
        self.count("accepted")
        return 200, {"status": "accepted", "event_id": event.event_id, "spans": spans}

    def close(self) -> None:
        self.seen.close()
        self.open_exceptions.close()


def create_app(webhook: CarrierWebhook) -> Starlette:
    settings = webhook.settings
    limit = settings.max_body_bytes

    async def receive(request: Request) -> JSONResponse:
        too_large = JSONResponse({"error": f"body larger than {limit} bytes"}, status_code=413)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            webhook.count("413")
            return too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                webhook.count("413")
                return too_large
            chunks.append(chunk)
        # the export blocks until the collector answers: keep it off the event loop
        status, payload = await run_in_threadpool(webhook.handle, b"".join(chunks), dict(request.headers))
        headers = {"Retry-After": "30"} if status == 503 else None
        return JSONResponse(payload, status_code=status, headers=headers)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "counts": webhook.counts, "seen_ids": len(webhook.seen)})

    async def metrics(request: Request) -> Response:
        return Response(
            generate_latest(webhook.registry), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return Starlette(
        routes=[
            Route(settings.path, receive, methods=["POST"]),
            Route("/healthz", health),
            Route("/metrics", metrics),
        ]
    )


class CarrierAgent:
    """The webhook served by uvicorn in a thread (a ``tower serve`` service)."""

    name = "carrier-agent"

    def __init__(
        self,
        settings: CarrierAgentSettings,
        emitter: Emitter,
        state_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.webhook = CarrierWebhook(settings, emitter, state_dir, clock)
        self.limits = ServerLimits(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            keep_alive_timeout_s=settings.keep_alive_timeout_s,
            max_connections=settings.max_connections,
        )
        config = uvicorn.Config(
            create_app(self.webhook),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            **uvicorn_options(self.limits),
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        sock = self.server.servers[0].sockets[0].getsockname()
        return f"http://{sock[0]}:{sock[1]}{self.webhook.settings.path}"

    def start(self) -> None:
        for warning in self.webhook.warnings():
            log.warning("%s", warning)
        self._thread = threading.Thread(target=self._serve, name="carrier-agent", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"carrier webhook could not listen on {self.webhook.settings.host}:{self.webhook.settings.port}"
                )
            time.sleep(0.02)
        log.info("carrier webhook listening on %s", self.url)

    def _serve(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind; start() reports it
            self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.webhook.close()
        self.webhook.emitter.shutdown()
