"""The stalled-warehouse scenario, driven with an explicit clock: pending -> firing after ``for`` ->
one notification per group -> repeat after repeat_interval -> quiet while silenced -> resolved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.receivers import Recorder, http_recorder
from support.warehouse import T0, recover, stalled_warehouse

from alerts import state
from alerts.evaluator import Evaluator
from alerts.model import AlertState
from alerts.rules import RulesConfig, parse_rules
from alerts.settings import AlertSettings
from kpis.policy import load_policy
from storage import Store

RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
    op: ">"
    threshold: 0
    for: 10m
    interval: 1m
    labels: {severity: critical, team: fulfilment}
    annotations:
      summary: "{{ value|int }} orders waiting at {{ labels.warehouse }}"
      runbook_url: https://runbooks.example.com/warehouse-stalled
route:
  receiver: ops
  group_by: [alertname, warehouse]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: ops
    webhook_configs:
      - url: {url}/hook
"""

SETTINGS = AlertSettings(
    allow_private_targets=True, external_url="https://tower.example.com", retry_initial_backoff_s=0
)


def config(url: str) -> RulesConfig:
    return parse_rules(RULES.replace("{url}", url))


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    with http_recorder() as recorder:
        yield recorder


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the webhook payload carries times: 2026-01-05T10:10:00.000Z
    (written out here, not the notifier's formatter)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%d}T{utc:%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


# The alert's identity: the first 16 hex digits of SHA-256 over its labels sorted by name, each name
# and value followed by a 0xff byte. Computed outside Python:
#   printf 'alertname\xffWarehouseStalled\xffseverity\xffcritical\xffteam\xfffulfilment\xffwarehouse\xffwh-2\xff' \
#     | sha256sum | cut -c1-16
FINGERPRINT = "f641574ae458a317"


def test_stalled_warehouse_pages_once_repeats_silences_and_resolves(store: Store, receiver: Recorder) -> None:
    stalled = stalled_warehouse(store)
    evaluator = Evaluator(store, config(receiver.url), SETTINGS, sleep=lambda s: None)
    labels = {
        "alertname": "WarehouseStalled",
        "severity": "critical",
        "team": "fulfilment",
        "warehouse": "wh-2",
    }
    fp = FINGERPRINT

    # T0: three wh-2 orders wait since allocation -> pending, nothing sent; wh-1 is fine.
    report = evaluator.evaluate_once(at(0))
    assert [(r.rule, r.error) for r in report.rules] == [("WarehouseStalled", "")]
    assert [(c.from_state, c.to_state) for c in report.changes] == [(AlertState.INACTIVE, AlertState.PENDING)]
    alerts = state.list_alerts(store)
    assert [(a.labels, a.state, a.value) for a in alerts] == [(labels, AlertState.PENDING, 3.0)]
    assert sorted(alerts[0].orders) == stalled

    evaluator.evaluate_once(at(5))
    assert state.get_alert(store, fp).state is AlertState.PENDING
    assert receiver.requests == []

    # after `for` (10m) it fires; group_wait (30s) holds the first notification back one tick.
    evaluator.evaluate_once(at(10))
    assert state.get_alert(store, fp).state is AlertState.FIRING
    assert receiver.requests == []
    evaluator.evaluate_once(at(11))
    assert len(receiver.requests) == 1
    body = receiver.requests[0].json()
    assert receiver.requests[0].path == "/hook"
    assert {k: v for k, v in body.items() if k != "alerts"} == {
        "version": "4",
        "groupKey": '{}:{alertname="WarehouseStalled", warehouse="wh-2"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"alertname": "WarehouseStalled", "warehouse": "wh-2"},
        "commonLabels": labels,
        "commonAnnotations": {
            "summary": "3 orders waiting at wh-2",
            "runbook_url": "https://runbooks.example.com/warehouse-stalled",
        },
        "externalURL": "https://tower.example.com",
    }
    [alert] = body["alerts"]
    assert alert == {
        "status": "firing",
        "labels": labels,
        "annotations": body["commonAnnotations"],
        "startsAt": rfc3339(at(10)),  # e.g. 2026-01-05T10:10:00.000Z
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"https://tower.example.com/alerts?fingerprint={fp}",
        "fingerprint": fp,
        "orders": [{"id": o, "url": f"https://tower.example.com/orders/{o}"} for o in alert_orders(alert)],
    }
    assert sorted(alert_orders(alert)) == stalled

    # still firing: no duplicates within repeat_interval ...
    for minute in (12, 20, 40, 70):
        evaluator.evaluate_once(at(minute))
    assert len(receiver.requests) == 1
    # ... and one repeat once it has passed (1h after the first notification)
    evaluator.evaluate_once(at(71))
    assert len(receiver.requests) == 2
    assert receiver.requests[1].json()["status"] == "firing"

    # silenced: the repeat that would be due at 2h11m is not sent; the suppression is visible.
    silence = state.create_silence(
        store,
        ['warehouse="wh-2"', 'alertname="WarehouseStalled"'],
        at(75),
        at(180),
        "oncall",
        "WMS patch",
        now=at(75),
    )
    evaluator.evaluate_once(at(131))
    evaluator.evaluate_once(at(140))
    assert len(receiver.requests) == 2
    report = evaluator.evaluate_once(at(141))
    assert report.sent == []
    silenced = state.get_alert(store, fp, now=at(141))
    assert silenced.state is AlertState.FIRING and silenced.suppressed_by == [silence.id]
    assert state.get_alert(store, fp, now=at(181)).suppressed_by == []  # the silence ends at 3h

    # the warehouse recovers and the silence is lifted: one resolved notification.
    recover(store, stalled, at(160))
    state.expire_silence(store, silence.id, now=at(161))
    evaluator.evaluate_once(at(162))
    assert state.get_alert(store, fp).state is AlertState.RESOLVED
    assert len(receiver.requests) == 3
    resolved = receiver.requests[2].json()
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == rfc3339(at(162))
    assert resolved["alerts"][0]["endsAt"].endswith(":00.000Z")

    # nothing more once resolved
    evaluator.evaluate_once(at(200))
    evaluator.evaluate_once(at(400))
    assert len(receiver.requests) == 3

    history = [(c.from_state.value, c.to_state.value) for c in reversed(state.alert_history(store, fp))]
    assert history == [("inactive", "pending"), ("pending", "firing"), ("firing", "resolved")]
    log = state.notification_log(store)
    assert [(r.status, r.outcome, r.attempts) for r in reversed(log)] == [
        ("firing", "sent", 1),
        ("firing", "sent", 1),
        ("resolved", "sent", 1),
    ]
    assert log[0].target == receiver.url
    evaluator.close()


def alert_orders(alert: dict) -> list[str]:
    return [o["id"] for o in alert["orders"]]


def test_restart_mid_firing_sends_no_duplicate_and_loses_no_resolve(store: Store, receiver: Recorder) -> None:
    stalled = stalled_warehouse(store)
    first = Evaluator(store, config(receiver.url), SETTINGS)
    for minute in (0, 10, 11):
        first.evaluate_once(at(minute))
    first.close()
    assert len(receiver.requests) == 1

    # a new process (fresh evaluator, same store) carries on: no duplicate notification
    second = Evaluator(store, config(receiver.url), SETTINGS)
    second.evaluate_once(at(12))
    second.evaluate_once(at(30))
    assert len(receiver.requests) == 1
    second.close()

    # the warehouse recovers while no evaluator runs; the next process still sends the resolve
    recover(store, stalled, at(40))
    third = Evaluator(store, config(receiver.url), SETTINGS)
    third.evaluate_once(at(45))
    third.close()
    assert [r.json()["status"] for r in receiver.requests] == ["firing", "resolved"]
    assert state.list_alerts(store, states=["firing"]) == []


def test_condition_clearing_before_for_never_notifies(store: Store, receiver: Recorder) -> None:
    stalled = stalled_warehouse(store)
    evaluator = Evaluator(store, config(receiver.url), SETTINGS)
    evaluator.evaluate_once(at(0))
    recover(store, stalled, at(3))
    evaluator.evaluate_once(at(5))
    evaluator.evaluate_once(at(30))
    evaluator.close()
    assert receiver.requests == []
    [alert] = state.list_alerts(store)
    assert alert.state is AlertState.INACTIVE


def test_keep_firing_for_holds_a_flapping_alert(store: Store, receiver: Recorder) -> None:
    stalled = stalled_warehouse(store)
    rules = RULES.replace("    for: 10m\n", "    for: 0s\n    keep_firing_for: 10m\n")
    evaluator = Evaluator(store, parse_rules(rules.replace("{url}", receiver.url)), SETTINGS)
    evaluator.evaluate_once(at(0))
    evaluator.evaluate_once(at(1))
    fp = state.list_alerts(store)[0].fingerprint
    assert state.get_alert(store, fp).state is AlertState.FIRING
    recover(store, stalled, at(2))
    evaluator.evaluate_once(at(5))  # condition cleared 4 minutes after it was last seen: still firing
    assert state.get_alert(store, fp).state is AlertState.FIRING
    evaluator.evaluate_once(at(12))  # 11 minutes: resolved
    assert state.get_alert(store, fp).state is AlertState.RESOLVED
    evaluator.close()
    assert [r.json()["status"] for r in receiver.requests] == ["firing", "resolved"]


def test_rules_run_at_their_interval_and_a_failing_rule_does_not_stop_the_others(
    store: Store, receiver: Recorder
) -> None:
    stalled_warehouse(store)
    broken = "  - name: Broken\n    signal: sla_breach_count\n    group_by: [system_kind]\n    interval: 1m\n"
    text = RULES.replace("route:", broken + "route:", 1).replace("{url}", receiver.url)
    evaluator = Evaluator(store, parse_rules(text), SETTINGS, kpi_policy=load_policy())
    report = evaluator.evaluate_once(at(0))
    assert [(r.rule, r.error) for r in report.rules] == [
        ("WarehouseStalled", ""),
        ("Broken", "signal sla_breach_count cannot filter or group by 'system_kind'"),
    ]
    assert [a.rule for a in state.list_alerts(store)] == ["WarehouseStalled"]
    # 30s later no rule is due (interval 1m; the failed one is retried at its interval too)
    assert evaluator.evaluate_once(at(0.5)).rules == []
    assert [r.rule for r in evaluator.evaluate_once(at(1)).rules] == ["WarehouseStalled", "Broken"]
    evaluator.close()
