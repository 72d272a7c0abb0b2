"""Carrier tracking webhook against the real collector: Standard Webhooks signatures (signed with the
reference ``standardwebhooks`` library), replays, hostile bodies and times, collector refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock import ANCHOR
from standardwebhooks.webhooks import Webhook
from support.ports import refused_port

from collector.agents.carrier import CarrierAgent, WebhookConfigError, sign, sign_standard
from collector.agents.emitter import Emitter, TimeWindow
from collector.agents.settings import CarrierAgentSettings, FieldMapping
from tracing import conventions as c
from tracing.otlp_http import otlp_exporter

SECRET = "whsec_" + base64.b64encode(b"carrier-webhook-test-key-32bytes").decode()
NOW = ANCHOR.timestamp()  # the webhook's "now" (tests/clock.py), injected


def _event_time(before_now_s: float = 3600) -> str:
    """An event ``before_now_s`` (an hour) before the injected now (ISO 8601, as carriers send it)."""
    return datetime.fromtimestamp(NOW - before_now_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def easypost_event(
    event_id: str, status: str = "in_transit", at: str | None = None, **result: Any
) -> dict[str, Any]:
    """A tracker event in the common multi-carrier (EasyPost-style) webhook shape."""
    return {
        "id": event_id,
        "object": "Event",
        "description": "tracker.updated",
        "mode": "production",
        "result": {
            "id": "trk_123",
            "object": "Tracker",
            "tracking_code": "1Z999AA10123456784",
            "status": status,
            "carrier": "UPS",
            "shipment_id": "SH-55012",
            "tracking_details": [
                {"status": "pre_transit", "message": "Label created", "datetime": _event_time()},
                {"status": status, "message": f"Now {status}", "datetime": at or _event_time()},
            ],
            **result,
        },
    }


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Start = Callable[..., CarrierAgent]


@pytest.fixture
def start(tmp_path: Path, real_collector: Any, service: str) -> Iterator[Start]:
    """``start(clock=..., state=..., **settings)`` starts a webhook sending to the real collector."""
    started: list[CarrierAgent] = []

    def make(
        clock: Clock | None = None,
        state: str = "state",
        window: dict[str, Any] | None = None,
        emitter: Emitter | None = None,
        **over: Any,
    ):
        clock = clock or Clock(NOW)
        settings = CarrierAgentSettings(port=0, system_instance=service, **{"secret": SECRET, **over})
        emitter = emitter or real_collector.emitter(
            service, "carrier", clock=lambda: int(clock() * 1e9), **(window or {})
        )
        agent = CarrierAgent(settings, emitter, tmp_path / state, clock=clock)
        agent.start()
        started.append(agent)
        return agent

    yield make
    for agent in started:
        agent.stop()


def post(
    agent: CarrierAgent, body: bytes, msg_id: str = "msg_1", at: float = NOW, secret: str = SECRET
) -> httpx.Response:
    """POST ``body`` signed by the reference Standard Webhooks library (ours for bytes that are not UTF-8)."""
    try:
        signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body.decode("utf-8"))
    except UnicodeDecodeError:
        signature = sign_standard(secret, msg_id, int(at), body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at)), "webhook-signature": signature}
    return httpx.post(
        agent.url, content=body, headers={"content-type": "application/json", **headers}, timeout=15
    )


def test_signed_tracking_event_becomes_a_hop_keyed_by_tracking_number(
    start: Start, real_collector: Any, service: str
) -> None:
    agent = start()
    response = post(agent, json.dumps(easypost_event("evt_001", "out_for_delivery")).encode())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    (span,) = real_collector.spans(service)
    assert span.name == "carrier out_for_delivery"
    assert span.attributes[c.SHIPMENT_TRACKING_NUMBER] == "1Z999AA10123456784"
    assert span.attributes[c.SHIPMENT_ID] == "SH-55012"
    assert span.attributes[c.SHIPMENT_CARRIER] == "UPS"
    assert span.attributes[c.STAGE] == "deliver"
    assert span.attributes[c.STATUS] == "out_for_delivery"
    assert span.attributes[c.SYSTEM_KIND] == "carrier"
    assert span.attributes[c.SYSTEM_INSTANCE] == "ups"
    assert span.start_ns == int(NOW - 3600) * 10**9  # the latest tracking detail


def test_without_a_secret_the_webhook_refuses_to_start(
    tmp_path: Path, real_collector: Any, service: str
) -> None:
    emitter = real_collector.emitter(service, "carrier")
    with pytest.raises(WebhookConfigError, match=r"no secret: set collector\.agents\.carrier\.secret"):
        CarrierAgent(CarrierAgentSettings(port=0), emitter, tmp_path / "state")
    with pytest.raises(ValueError, match="starts with 'whsec_'"):
        CarrierAgentSettings(secret="not-a-standard-secret")


def test_allow_unsigned_accepts_unsigned_events_and_warns_at_every_start(
    start: Start, real_collector: Any, service: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="collector.agents.carrier"):
        first = start(secret="", allow_unsigned=True)
        body = json.dumps(easypost_event("evt_unsigned")).encode()
        assert httpx.post(first.url, content=body, timeout=15).json()["status"] == "accepted"
        first.stop()
        start(secret="", allow_unsigned=True, state="state")
    warnings = [r.getMessage() for r in caplog.records if "UNSIGNED" in r.getMessage()]
    assert len(warnings) == 2  # one per start
    assert len(real_collector.spans(service)) == 1


def test_bad_missing_or_stale_signatures_are_401_and_store_nothing(
    start: Start, real_collector: Any, service: str
) -> None:
    agent = start()
    body = json.dumps(easypost_event("evt_002")).encode()
    assert httpx.post(agent.url, content=body, timeout=15).status_code == 401  # unsigned
    other = "whsec_" + base64.b64encode(b"some-other-key-of-32-bytes-long!").decode()
    assert post(agent, body, secret=other).status_code == 401
    request = post(agent, body, msg_id="msg_ok", secret=other).request  # refused: nothing recorded
    signed = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    signed["webhook-signature"] = Webhook(SECRET).sign(
        "msg_ok", datetime.fromtimestamp(NOW, UTC), body.decode()
    )
    tampered = body.replace(b"in_transit", b"delivered")
    forged = httpx.post(agent.url, content=tampered, headers=signed, timeout=15)
    assert forged.status_code == 401 and "no valid v1 signature" in forged.json()["error"]
    # a validly signed event from 2019 (a captured request): its timestamp is outside the tolerance
    old = post(agent, body, msg_id="msg_2019", at=datetime(2019, 6, 1, tzinfo=UTC).timestamp())
    assert old.status_code == 401 and "webhook-timestamp is more than 300 s away" in old.json()["error"]
    ahead = post(agent, body, msg_id="msg_ahead", at=NOW + 301)
    assert ahead.status_code == 401
    no_stamp = httpx.post(
        agent.url, content=body, headers={"webhook-id": "x", "webhook-signature": "v1,AA=="}
    )
    assert no_stamp.status_code == 401 and "missing webhook-timestamp" in no_stamp.json()["error"]
    assert real_collector.spans(service) == []


def test_replays_are_refused_durably_whatever_came_in_between(
    start: Start, real_collector: Any, service: str
) -> None:
    clock = Clock(NOW)
    agent = start(clock=clock)
    captured = json.dumps(easypost_event("evt_006", "delivered")).encode()
    assert post(agent, captured, msg_id="msg_captured").json()["status"] == "accepted"
    for n in range(6):  # newer events do not push the captured one out
        clock.now += 1
        body = json.dumps(easypost_event(f"evt_newer_{n}")).encode()
        assert post(agent, body, msg_id=f"msg_newer_{n}", at=clock.now).json()["status"] == "accepted"
    replay = post(agent, captured, msg_id="msg_captured")
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    # the same event re-signed under a new webhook id (a carrier's retry) is a duplicate too
    assert post(agent, captured, msg_id="msg_retry", at=clock.now).json()["status"] == "duplicate"
    agent.stop()
    restarted = start(clock=clock)  # same state directory: a restart
    assert post(restarted, captured, msg_id="msg_captured").json()["status"] == "duplicate"
    health = httpx.get(restarted.url.rsplit("/", 2)[0] + "/healthz", timeout=5).json()
    assert health["seen_ids"] == 2 * 7  # the event id and the webhook id of each accepted event, kept
    clock.now = NOW + 301  # once the signed timestamp is outside the tolerance, the signature is refused
    assert post(restarted, captured, msg_id="msg_captured").status_code == 401
    stored = real_collector.spans(service)
    assert [s.attributes["shipment.event.id"] for s in stored].count("evt_006") == 1
    assert len(stored) == 7


@pytest.mark.parametrize(
    ("label", "body", "status", "message"),
    [
        (
            "Infinity",
            b'{"id": "e1", "result": {"tracking_code": "T", "status": "x", "n": Infinity}}',
            400,
            "Infinity",
        ),
        ("NaN", b'{"id": "e2", "result": {"tracking_code": "T", "status": "x", "n": NaN}}', 400, "NaN"),
        ("-Infinity", b'{"id": "e3", "result": {"n": -Infinity}}', 400, "-Infinity"),
        ("1e999", b'{"id": "e4", "result": {"n": 1e999}}', 400, "out of range"),
        ("not JSON", b"tracking update for 1Z999", 400, "malformed JSON"),
        ("truncated JSON", b'{"id": "evt_003", "result": {', 400, "malformed JSON"),
        ("invalid UTF-8", b"\xff\xfe\x00garbage", 400, "malformed JSON"),
        ("an array", b"[1, 2, 3]", 400, "must be a JSON object"),
        ("too deep", b"[" * 20_000 + b"]" * 20_000, 400, "nested too deeply"),
    ],
)
def test_malformed_bodies_are_400(
    start: Start, real_collector: Any, service: str, label: str, body: bytes, status: int, message: str
) -> None:
    agent = start()
    response = post(agent, body, msg_id=f"msg_{label}")
    assert response.status_code == status, (label, response.text)
    assert message in response.json()["error"], label
    metrics = httpx.get(agent.url.rsplit("/", 2)[0] + "/metrics", timeout=5).text
    assert f'tower_agent_carrier_requests_total{{outcome="{status}"}} 1.0' in metrics
    assert real_collector.spans(service) == []


@pytest.mark.parametrize(
    ("label", "occurred_at", "message"),
    [
        ("-1", -1, "older than the 30 days the store keeps"),
        ("0001-01-01", "0001-01-01T00:00:00Z", "event time 0001-01-01T00:00:00Z is older"),
        ("9999-12-31", "9999-12-31T23:59:59Z", "event time 9999-12-31T23:59:59Z is in the future"),
        ("1972", "1972-06-01T00:00:00Z", "is older than the 30 days"),
        ("2300", "2300-01-01T00:00:00Z", "is in the future"),
        ("epoch 0", 0, "is older than"),
        ("not a time", "yesterday at noon", "event time is not ISO 8601 text"),
        ("a boolean", True, "event time must be ISO 8601 text or epoch seconds"),
        ("a 400-digit integer", 10**400, "is in the future"),
        ("1e300 seconds", 1e300, "not a number of seconds or milliseconds"),
    ],
)
def test_event_times_the_store_cannot_keep_are_422_not_503(
    start: Start, real_collector: Any, service: str, label: str, occurred_at: Any, message: str
) -> None:
    agent = start()
    event = easypost_event(f"evt_time_{label}")
    event["result"]["tracking_details"][-1]["datetime"] = occurred_at
    for attempt in range(2):  # the carrier's retry gets the same answer: it stops retrying
        response = post(agent, json.dumps(event).encode(), msg_id=f"msg_time_{label}_{attempt}")
        assert response.status_code == 422, (label, response.text)
        assert message in response.json()["error"], (label, response.json())
    assert real_collector.spans(service) == []


def test_missing_fields_are_422_and_oversized_bodies_413(
    start: Start, real_collector: Any, service: str
) -> None:
    agent = start(max_body_bytes=64 * 1024)
    missing = post(
        agent, json.dumps({"id": "evt_004", "object": "Event", "result": {"status": "delivered"}}).encode()
    )
    assert missing.status_code == 422
    assert "tracking_number (result.tracking_code)" in missing.json()["error"]
    event = easypost_event("evt_005")
    event["result"]["padding"] = "x" * 100_000
    assert post(agent, json.dumps(event).encode(), msg_id="msg_big").status_code == 413
    metrics = httpx.get(agent.url.rsplit("/", 2)[0] + "/metrics", timeout=5).text
    assert 'tower_agent_carrier_requests_total{outcome="422"} 1.0' in metrics
    assert 'tower_agent_carrier_requests_total{outcome="413"} 1.0' in metrics
    assert real_collector.spans(service) == []


def _rejected_spans(real_collector: Any, reason: str) -> float:
    """The real collector's count of spans it rejected for ``reason`` (its /metrics)."""
    metrics = httpx.get(real_collector.url + "/metrics", timeout=10).text
    prefix = f'tower_collector_spans_rejected_total{{reason="{reason}"}} '
    return sum(float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix))


def test_an_event_the_collector_rejects_is_not_acknowledged_422_with_its_reason(
    start: Start, real_collector: Any, service: str
) -> None:
    """An agent whose own window lets year 2300 through: the real collector refuses the span in its
    partial success, and the carrier is told so (422), not "accepted"."""
    agent = start(window={"max_ahead_s": 400 * 365 * 86400})
    rejected_before = _rejected_spans(real_collector, "time_after_window")
    event = easypost_event("evt_2300", at="2300-01-01T00:00:00Z")
    response = post(agent, json.dumps(event).encode())
    assert response.status_code == 422, response.text
    assert response.json().get("status") != "accepted"  # the carrier must not be told it was kept
    error = response.json()["error"]
    assert error.startswith("event not stored: collector rejected 1 span(s)")
    assert "after the accepted window" in error  # the collector's own reason
    # counted by the collector
    assert _rejected_spans(real_collector, "time_after_window") == rejected_before + 1
    assert real_collector.spans(service) == []
    # not remembered: fixed and re-sent, the same event is accepted
    fixed = post(agent, json.dumps(easypost_event("evt_2300")).encode(), msg_id="msg_fixed")
    assert fixed.json()["status"] == "accepted"


def test_an_unreachable_collector_is_503_with_retry_after(tmp_path: Path) -> None:
    with refused_port() as closed:
        emitter = Emitter(
            otlp_exporter(f"http://127.0.0.1:{closed}", timeout_s=1),
            "carrier",
            "carrier",
            window=TimeWindow(clock=lambda: int(NOW * 1e9)),
        )
        agent = CarrierAgent(
            CarrierAgentSettings(port=0, secret=SECRET), emitter, tmp_path / "s", clock=Clock(NOW)
        )
        agent.start()
        try:
            body = json.dumps(easypost_event("evt_007")).encode()
            response = post(agent, body)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "30"
            assert len(agent.webhook.seen) == 0  # not remembered: the carrier's retry is processed
        finally:
            agent.stop()


def test_a_busy_collector_is_503_and_the_retry_is_accepted(
    start: Start, scripted: Any, scripted_emitter: Any, service: str
) -> None:
    # scripted receiver: the real collector cannot refuse one valid request and accept its retry on demand
    agent = start(emitter=scripted_emitter(service, "carrier"), max_body_bytes=64 * 1024)
    body = json.dumps(easypost_event("evt_007")).encode()
    scripted.fail_with = 503
    response = post(agent, body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    scripted.fail_with = None
    # not remembered as seen while unacknowledged: the carrier's retry (a new delivery attempt) is stored
    assert post(agent, body, msg_id="msg_1_retry").json()["status"] == "accepted"
    assert len(scripted.spans) == 1


def test_a_wrong_collector_token_is_503_and_nothing_is_stored(
    start: Start, real_collector: Any, service: str
) -> None:
    # the real collector answers 401 to a token it does not know: the event is not acknowledged
    agent = start(emitter=real_collector.emitter(service, "carrier", token="not-the-token"))
    response = post(agent, json.dumps(easypost_event("evt_401")).encode())
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert real_collector.spans(service) == []


def test_carrier_exception_opens_and_the_next_event_resolves_it(
    start: Start, real_collector: Any, service: str
) -> None:
    agent = start()
    for msg_id, event_id, status, hours_ago in (
        ("m1", "evt_008", "failure", 3),
        ("m2", "evt_008b", "delivered", 2),  # the next event of that tracking number resolves it
        ("m3", "evt_008c", "delivered", 1),
    ):
        event = easypost_event(event_id, status, at=_event_time(hours_ago * 3600))
        assert post(agent, json.dumps(event).encode(), msg_id=msg_id).status_code == 200
    by_event = {s.attributes["shipment.event.id"]: s for s in real_collector.spans(service)}
    opened, resolved, plain = by_event["evt_008"], by_event["evt_008b"], by_event["evt_008c"]
    assert opened.attributes[c.EXCEPTION_TYPE] == "carrier_exception"
    assert opened.attributes[c.EXCEPTION_OUTCOME] == "opened" and opened.status_code == "Error"
    assert "1Z999AA10123456784" in opened.status_message
    assert resolved.attributes[c.EXCEPTION_TYPE] == "carrier_exception"
    assert resolved.attributes[c.EXCEPTION_OUTCOME] == "resolved" and resolved.status_code != "Error"
    assert c.EXCEPTION_OUTCOME not in plain.attributes


def test_non_tracker_events_are_ignored(start: Start, real_collector: Any, service: str) -> None:
    agent = start()
    event = {"id": "evt_009", "object": "Event", "description": "batch.updated", "result": {}}
    response = post(agent, json.dumps(event).encode())
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert real_collector.spans(service) == []


def test_custom_field_mapping(start: Start, real_collector: Any, service: str) -> None:
    mapping = FieldMapping(
        event_id="eventId",
        tracking_number="shipment.trackingNumber",
        status="event.code",
        carrier="shipment.carrier",
        order_id="shipment.reference",
        occurred_at="event.at",
        status_map={"PU": "picked_up", "DL": "delivered", "EX": "exception"},
    )
    agent = start(mapping="custom", field_mapping=mapping)
    body = {
        "eventId": "e-1",
        "event": {"code": "PU", "at": int(NOW - 600)},
        "shipment": {"trackingNumber": "TRK-1", "carrier": "FedEx", "reference": "SO-104233"},
    }
    response = post(agent, json.dumps(body).encode())
    assert response.status_code == 200, response.text
    (span,) = real_collector.spans(service)
    assert span.attributes[c.STATUS] == "picked_up"
    assert span.attributes[c.STAGE] == "ship"
    assert span.attributes[c.ORDER_ID] == "SO-104233"
    assert span.attributes["shipment.carrier_status"] == "PU"
    assert span.start_ns == int(NOW - 600) * 10**9


def test_custom_mapping_requires_a_field_mapping() -> None:
    with pytest.raises(ValueError, match="mapping=custom needs field_mapping"):
        CarrierAgentSettings(mapping="custom", secret=SECRET)


def test_a_busy_port_is_a_clear_start_error(
    tmp_path: Path, start: Start, real_collector: Any, service: str
) -> None:
    agent = start()
    port = int(agent.url.split(":")[2].split("/")[0])
    clash = CarrierAgent(
        CarrierAgentSettings(port=port, secret=SECRET),
        real_collector.emitter(service, "carrier"),
        tmp_path / "s2",
    )
    with pytest.raises(RuntimeError, match=f"could not listen on 127.0.0.1:{port}"):
        clash.start()
    clash.stop()


def test_body_only_hmac_scheme_for_aftership_with_its_warning(
    start: Start, real_collector: Any, service: str, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = "aftership-shared-secret"
    with caplog.at_level(logging.WARNING, logger="collector.agents.carrier"):
        agent = start(
            mapping="aftership",
            secret=legacy,
            signature_scheme="hmac-sha256",
            signature_header="aftership-hmac-sha256",
        )
    assert any("cover no timestamp" in r.getMessage() for r in caplog.records)
    event = {
        "ts": int(NOW),  # sent later than it happened
        "event": "tracking_update",
        "event_id": "6f1c1d9e-3c52-4c4f-9d0e-0a4b9d1c2e11",
        "msg": {
            "tracking_number": "9400111899560000000001",
            "slug": "usps",
            "tag": "OutForDelivery",
            "order_number": "SO-104233",
            "checkpoints": [
                {"checkpoint_time": _event_time(3600 + 55 * 60), "message": "Arrived at post office"},
                {"checkpoint_time": _event_time(), "message": "Out for delivery"},
            ],
        },
    }
    body = json.dumps(event).encode()
    digest = base64.b64encode(hmac.new(legacy.encode(), body, hashlib.sha256).digest()).decode()
    ok = httpx.post(agent.url, content=body, headers={"aftership-hmac-sha256": digest}, timeout=15)
    assert ok.status_code == 200 and ok.json()["status"] == "accepted", ok.text
    again = httpx.post(agent.url, content=body, headers={"aftership-hmac-sha256": digest}, timeout=15)
    assert again.json()["status"] == "duplicate"  # its event id is kept
    hexed = httpx.post(
        agent.url, content=body, headers={"aftership-hmac-sha256": "sha256=" + sign(legacy, body)}
    )
    assert hexed.json()["status"] == "duplicate"  # hex signatures verify too
    assert httpx.post(agent.url, content=body, headers={"aftership-hmac-sha256": "0" * 64}).status_code == 401
    other = json.dumps({"event": "edd_revise", "event_id": "e2", "msg": {}}).encode()
    sig = base64.b64encode(hmac.new(legacy.encode(), other, hashlib.sha256).digest()).decode()
    skipped = httpx.post(agent.url, content=other, headers={"aftership-hmac-sha256": sig}, timeout=15)
    assert skipped.json()["status"] == "ignored"
    (span,) = real_collector.spans(service)
    assert span.attributes[c.STATUS] == "out_for_delivery"
    assert span.attributes[c.SYSTEM_INSTANCE] == "usps"
    assert span.attributes[c.ORDER_ID] == "SO-104233"
    assert span.attributes["shipment.status_message"] == "Out for delivery"
    assert span.start_ns == int(NOW - 3600) * 10**9  # the latest checkpoint
