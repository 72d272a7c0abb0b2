"""Carrier tracking webhook: real HTTP server, signatures, malformed and oversized bodies, replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock import ANCHOR

from collector.agents.carrier import CarrierAgent, sign
from collector.agents.emitter import Emitter, otlp_exporter
from collector.agents.settings import CarrierAgentSettings, FieldMapping
from tracing import conventions as c

SECRET = "whsec-test-secret"
# tracking events happen at the tests' anchor (the real collector keeps only what its retention keeps)
EVENT_AT = ANCHOR


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def easypost_event(
    event_id: str, status: str = "in_transit", at: datetime = EVENT_AT, **result: Any
) -> dict[str, Any]:
    """A tracker event in the common multi-carrier (EasyPost-style) webhook shape, its latest tracking
    detail at ``at``."""
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
                {
                    "status": "pre_transit",
                    "message": "Label created",
                    "datetime": iso(at - timedelta(hours=9)),
                },
                {"status": status, "message": f"Now {status}", "datetime": iso(at)},
            ],
            **result,
        },
    }


@pytest.fixture
def agent(tmp_path: Path, make_emitter: Any) -> Iterator[CarrierAgent]:
    settings = CarrierAgentSettings(port=0, secret=SECRET, max_body_bytes=64 * 1024)
    a = CarrierAgent(settings, make_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    a.start()
    yield a
    a.stop()


def post(agent: CarrierAgent, body: bytes, signature: str | None = "auto") -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature == "auto":
        signature = "hmac-sha256-hex=" + sign(SECRET, body)
    if signature is not None:
        headers["X-Hmac-Signature"] = signature
    return httpx.post(agent.url, content=body, headers=headers, timeout=10)


def test_tracking_event_becomes_a_hop_keyed_by_tracking_number(agent: CarrierAgent, sink: Any) -> None:
    body = json.dumps(easypost_event("evt_001", "out_for_delivery")).encode()
    response = post(agent, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    (span,) = sink.spans
    assert span.name == "carrier out_for_delivery"
    assert span.attributes[c.SHIPMENT_TRACKING_NUMBER] == "1Z999AA10123456784"
    assert span.attributes[c.SHIPMENT_ID] == "SH-55012"
    assert span.attributes[c.SHIPMENT_CARRIER] == "UPS"
    assert span.attributes[c.STAGE] == "deliver"
    assert span.attributes[c.STATUS] == "out_for_delivery"
    assert span.attributes[c.SYSTEM_KIND] == "carrier"
    assert span.attributes[c.SYSTEM_INSTANCE] == "ups"
    assert span.start_ns == int(EVENT_AT.timestamp()) * 10**9  # the latest tracking detail


def test_bad_or_missing_signature_is_401_and_emits_nothing(agent: CarrierAgent, sink: Any) -> None:
    body = json.dumps(easypost_event("evt_002")).encode()
    assert post(agent, body, signature=None).status_code == 401
    assert post(agent, body, signature="hmac-sha256-hex=" + "0" * 64).status_code == 401
    tampered = body.replace(b"in_transit", b"delivered")
    assert post(agent, tampered, signature="hmac-sha256-hex=" + sign(SECRET, body)).status_code == 401
    assert sink.spans == []
    # base64 signatures (AfterShip-style) are accepted too
    b64 = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert post(agent, body, signature=b64).status_code == 200
    assert len(sink.spans) == 1


def test_malformed_json_is_400_and_missing_fields_422(agent: CarrierAgent, sink: Any) -> None:
    response = post(agent, b'{"id": "evt_003", "result": {')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert post(agent, b"\xff\xfe\x00garbage").status_code == 400
    assert post(agent, b"[1, 2, 3]").status_code == 400
    metrics = httpx.get(agent.url.rsplit("/", 2)[0] + "/metrics", timeout=5).text
    assert 'tower_agent_carrier_requests_total{outcome="400"} 3.0' in metrics
    deep = post(agent, b"[" * 20_000 + b"]" * 20_000)
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["error"]
    missing = post(
        agent, json.dumps({"id": "evt_004", "object": "Event", "result": {"status": "delivered"}}).encode()
    )
    assert missing.status_code == 422
    assert "tracking_number (result.tracking_code)" in missing.json()["error"]
    assert sink.spans == []


def test_oversized_body_is_413(agent: CarrierAgent, sink: Any) -> None:
    event = easypost_event("evt_005")
    event["result"]["padding"] = "x" * 100_000
    assert post(agent, json.dumps(event).encode()).status_code == 413
    assert sink.spans == []


def test_replayed_event_is_stored_once_even_after_a_restart(
    tmp_path: Path, make_emitter: Any, sink: Any
) -> None:
    settings = CarrierAgentSettings(port=0, secret=SECRET)
    body = json.dumps(easypost_event("evt_006", "delivered")).encode()
    first = CarrierAgent(settings, make_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    first.start()
    try:
        assert post(first, body).json()["status"] == "accepted"
        assert post(first, body).json()["status"] == "duplicate"
    finally:
        first.stop()
    again = CarrierAgent(settings, make_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    again.start()
    try:
        response = post(again, body)
        assert response.status_code == 200 and response.json()["status"] == "duplicate"
        health = httpx.get(again.url.rsplit("/", 2)[0] + "/healthz", timeout=5).json()
        assert health["seen_ids"] == 1
    finally:
        again.stop()
    assert len(sink.spans) == 1


def test_collector_refusal_is_503_and_the_retry_is_accepted(
    tmp_path: Path, scripted: Any, scripted_emitter: Any
) -> None:
    # scripted receiver: the real collector cannot refuse one valid request and accept its retry on demand
    settings = CarrierAgentSettings(port=0, secret=SECRET, max_body_bytes=64 * 1024)
    agent = CarrierAgent(settings, scripted_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    agent.start()
    try:
        body = json.dumps(easypost_event("evt_007")).encode()
        scripted.fail_with = 400
        response = post(agent, body)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        scripted.fail_with = None
        assert post(agent, body).json()["status"] == "accepted"  # not remembered as seen while unacknowledged
    finally:
        agent.stop()
    assert len(scripted.spans) == 1


def test_a_wrong_collector_token_is_503_and_nothing_is_stored(tmp_path: Path, sink: Any) -> None:
    # the real collector answers 401 to a token it does not know: the event is not acknowledged
    wrong = Emitter(otlp_exporter(sink.url, "not-the-token", timeout_s=5), "carrier-webhook", "carrier")
    settings = CarrierAgentSettings(port=0, secret=SECRET)
    agent = CarrierAgent(settings, wrong, tmp_path / "state")
    agent.start()
    try:
        response = post(agent, json.dumps(easypost_event("evt_401")).encode())
    finally:
        agent.stop()
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert sink.spans == []


def test_carrier_exception_opens_an_exception(agent: CarrierAgent, sink: Any) -> None:
    body = json.dumps(easypost_event("evt_008", "failure")).encode()
    assert post(agent, body).status_code == 200
    (span,) = sink.spans
    assert span.attributes[c.EXCEPTION_TYPE] == "carrier_exception"
    assert span.attributes[c.EXCEPTION_OUTCOME] == "opened"
    assert span.status_code == 2
    assert "1Z999AA10123456784" in span.status_message
    # the next event of that tracking number resolves the exception
    later = EVENT_AT + timedelta(hours=2)
    assert post(agent, json.dumps(easypost_event("evt_008b", "delivered", later)).encode()).status_code == 200
    resolved = sink.spans[1]
    assert resolved.attributes[c.EXCEPTION_TYPE] == "carrier_exception"
    assert resolved.attributes[c.EXCEPTION_OUTCOME] == "resolved"
    assert resolved.status_code != 2
    again = EVENT_AT + timedelta(hours=3)
    assert post(agent, json.dumps(easypost_event("evt_008c", "delivered", again)).encode()).status_code == 200
    assert c.EXCEPTION_OUTCOME not in sink.spans[2].attributes


def test_non_tracker_events_are_ignored(agent: CarrierAgent, sink: Any) -> None:
    event = {"id": "evt_009", "object": "Event", "description": "batch.updated", "result": {}}
    response = post(agent, json.dumps(event).encode())
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert sink.spans == []


def test_custom_field_mapping(tmp_path: Path, make_emitter: Any, sink: Any) -> None:
    mapping = FieldMapping(
        event_id="eventId",
        tracking_number="shipment.trackingNumber",
        status="event.code",
        carrier="shipment.carrier",
        order_id="shipment.reference",
        occurred_at="event.at",
        status_map={"PU": "picked_up", "DL": "delivered", "EX": "exception"},
    )
    settings = CarrierAgentSettings(port=0, mapping="custom", field_mapping=mapping)  # no secret: unsigned ok
    agent = CarrierAgent(settings, make_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    agent.start()
    try:
        body = {
            "eventId": "e-1",
            "event": {"code": "PU", "at": int(EVENT_AT.timestamp())},
            "shipment": {"trackingNumber": "TRK-1", "carrier": "FedEx", "reference": "SO-104233"},
        }
        response = httpx.post(agent.url, json=body, timeout=10)
        assert response.status_code == 200, response.text
    finally:
        agent.stop()
    (span,) = sink.spans
    assert span.attributes[c.STATUS] == "picked_up"
    assert span.attributes[c.STAGE] == "ship"
    assert span.attributes[c.ORDER_ID] == "SO-104233"
    assert span.attributes["shipment.carrier_status"] == "PU"
    assert span.start_ns == int(EVENT_AT.timestamp()) * 10**9


def test_custom_mapping_requires_a_field_mapping() -> None:
    with pytest.raises(ValueError, match="mapping=custom needs field_mapping"):
        CarrierAgentSettings(mapping="custom")


def test_a_busy_port_is_a_clear_start_error(tmp_path: Path, make_emitter: Any, agent: CarrierAgent) -> None:
    port = int(agent.url.split(":")[2].split("/")[0])
    clash = CarrierAgent(
        CarrierAgentSettings(port=port), make_emitter("carrier-webhook", "carrier"), tmp_path / "s2"
    )
    with pytest.raises(RuntimeError, match=f"could not listen on 127.0.0.1:{port}"):
        clash.start()
    clash.stop()


def test_aftership_shape_with_a_base64_signature_header(tmp_path: Path, make_emitter: Any, sink: Any) -> None:
    settings = CarrierAgentSettings(
        port=0, mapping="aftership", secret=SECRET, signature_header="aftership-hmac-sha256"
    )
    agent = CarrierAgent(settings, make_emitter("carrier-webhook", "carrier"), tmp_path / "state")
    agent.start()
    try:
        event = {
            "ts": int((EVENT_AT + timedelta(hours=1)).timestamp()),  # sent later than it happened
            "event": "tracking_update",
            "event_id": "6f1c1d9e-3c52-4c4f-9d0e-0a4b9d1c2e11",
            "msg": {
                "tracking_number": "9400111899560000000001",
                "slug": "usps",
                "tag": "OutForDelivery",
                "order_number": "SO-104233",
                "checkpoints": [
                    {
                        "checkpoint_time": iso(EVENT_AT - timedelta(minutes=55)),
                        "message": "Arrived at post office",
                    },
                    {"checkpoint_time": iso(EVENT_AT), "message": "Out for delivery"},
                ],
            },
        }
        body = json.dumps(event).encode()
        digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        ok = httpx.post(agent.url, content=body, headers={"aftership-hmac-sha256": digest}, timeout=10)
        assert ok.status_code == 200 and ok.json()["status"] == "accepted", ok.text
        other = json.dumps({"event": "edd_revise", "event_id": "e2", "msg": {}}).encode()
        sig = base64.b64encode(hmac.new(SECRET.encode(), other, hashlib.sha256).digest()).decode()
        skipped = httpx.post(agent.url, content=other, headers={"aftership-hmac-sha256": sig}, timeout=10)
        assert skipped.json()["status"] == "ignored"
    finally:
        agent.stop()
    (span,) = sink.spans
    assert span.attributes[c.STATUS] == "out_for_delivery"
    assert span.attributes[c.SYSTEM_INSTANCE] == "usps"
    assert span.attributes[c.ORDER_ID] == "SO-104233"
    assert span.attributes["shipment.status_message"] == "Out for delivery"
    assert span.start_ns == int(EVENT_AT.timestamp()) * 10**9  # the latest checkpoint


def _post_event_dated_2300(agent: CarrierAgent) -> httpx.Response:
    """A tracking event dated past 2262 (beyond the OTLP nanosecond clock): the real collector rejects
    its span in partial_success."""
    event = easypost_event("evt_2300")
    event["result"]["tracking_details"][-1]["datetime"] = "2300-01-01T00:00:00Z"
    return post(agent, json.dumps(event).encode())


def test_an_event_the_collector_rejects_is_counted_and_not_stored(agent: CarrierAgent, sink: Any) -> None:
    _post_event_dated_2300(agent)
    assert sink.spans == []
    metrics = httpx.get(sink.url + "/metrics", timeout=10).text
    assert 'tower_collector_spans_rejected_total{reason="time_after_window"} 1.0' in metrics


@pytest.mark.xfail(
    strict=True,
    reason="known bug: agents export with the OTel SDK's OTLP exporter, which treats an HTTP 200 carrying "
    "partial_success.rejected_spans as success, so the agent acknowledges an event the collector refused",
)
def test_an_event_the_collector_rejects_is_not_acknowledged(agent: CarrierAgent, sink: Any) -> None:
    response = _post_event_dated_2300(agent)
    assert response.json()["status"] != "accepted"  # the carrier must not be told it was kept
