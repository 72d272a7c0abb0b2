"""Signals over spans (quiet systems, error rate, latency, no data) and the pipeline's suppression:
inhibition (a quiet ERP suppresses the stalled-order alerts it causes), mute windows, acknowledgements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from support.receivers import Recorder, http_recorder
from support.spans import insert
from support.warehouse import T0, hop, recover, stalled_warehouse

from alerts import signals, state
from alerts.evaluator import Evaluator
from alerts.model import AlertState
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from alerts.state import InvalidRequest
from storage import Store

SETTINGS = AlertSettings(
    allow_private_targets=True, external_url="https://tower.example.com", retry_initial_backoff_s=0
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def traffic(module_store: Store) -> Store:
    """erp-east busy until T0-40m then silent; wms-1 busy until T0 with 2 of 10 spans failing and slow picks."""
    spans = []
    for i in range(20):
        spans.append(hop(f"SO-E{i}", "validation", "erp-east", "erp", at(-100 + 3 * i), region="east"))
    for i in range(10):
        spans.append(
            hop(f"SO-W{i}", "pick", "wms-1", "wms", at(-9 + i), warehouse="wh-1", minutes=1 + i, error=i < 2)
        )
    insert(module_store, spans)
    return module_store


def rule(text: str):  # type: ignore[no-untyped-def]
    return parse_rules(
        f"rules:\n  - name: R\n{text}\nroute: {{receiver: r}}\nreceivers: [{{name: r}}]\n"
    ).rules[0]


def test_system_quiet_reports_minutes_since_the_last_span(traffic: Store) -> None:
    quiet = rule("    signal: system_quiet\n    op: '>='\n    threshold: 15m")
    samples = {s.group["system"]: s.value for s in signals.evaluate(traffic, quiet, at(0))}
    assert samples == {"erp-east": 43 * 60.0, "wms-1": 60.0}  # [since, now): the span at T0 is not yet in
    assert [quiet.compare(v) for v in (samples["erp-east"], samples["wms-1"])] == [True, False]
    # bounded by time: spans after `now` do not count, and older than the lookback are unknown
    assert {s.group["system"] for s in signals.evaluate(traffic, quiet, at(-60))} == {"erp-east"}


def test_error_rate_and_latency_per_system(traffic: Store) -> None:
    errors = rule("    signal: system_error_rate\n    params: {window: 10m}\n    group_by: [system]")
    assert [(s.group, s.value) for s in signals.evaluate(traffic, errors, at(1))] == [
        ({"system": "wms-1"}, 0.2)
    ]
    latency = rule(
        "    signal: system_latency\n    params: {window: 10m, quantile: 0.5}\n    group_by: [system, stage]\n"
        "    filters: {warehouse: [wh-1]}"
    )
    [sample] = signals.evaluate(traffic, latency, at(1))
    assert sample.group == {"system": "wms-1", "stage": "pick"}
    assert sample.value == 330.0  # the median of 1..10 minutes: halfway between 5 and 6 minutes
    nothing = rule("    signal: system_latency\n    params: {window: 10m}\n    filters: {warehouse: [wh-9]}")
    assert signals.evaluate(traffic, nothing, at(1)) == []


def test_no_data_fires_when_the_source_is_empty(store: Store) -> None:
    config = parse_rules(
        "rules:\n  - name: EdiNoData\n    signal: span_count\n    params: {window: 1h}\n"
        "    filters: {system_kind: [edi]}\n    op: '<'\n    threshold: 1\n    no_data: alerting\n"
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
    )
    evaluator = Evaluator(store, config, SETTINGS)
    evaluator.evaluate_once(at(0))
    [alert] = state.list_alerts(store)
    assert alert.state is AlertState.FIRING
    assert alert.labels == {"alertname": "EdiNoData", "alert_reason": "no_data"}
    insert(store, [hop("SO-1", "capture", "edi-gw", "edi", at(0.5))])
    evaluator.evaluate_once(at(2))
    assert state.get_alert(store, alert.fingerprint).state is AlertState.RESOLVED
    evaluator.close()


def test_stalled_orders_name_the_longest_waiting_first_every_time(store: Store) -> None:
    # eight orders stopped after allocation at wh-1, each a few minutes later than the one before
    spans = []
    for i in range(8):
        spans.append(hop(f"SO-S{i}", "capture", "erp-east", "erp", at(-120 + 3 * i)))
        spans.append(hop(f"SO-S{i}", "allocation", "erp-east", "erp", at(-110 + 3 * i), warehouse="wh-1"))
    insert(store, spans)
    stalled = rule("    signal: stalled_orders\n    params: {age: 30m}\n    group_by: [warehouse]")
    samples = [signals.evaluate(store, stalled, at(0), max_orders=3) for _ in range(5)]
    assert all(s == samples[0] for s in samples)
    [sample] = samples[0]
    assert sample.group == {"warehouse": "wh-1"}
    assert sample.value == 8.0
    # a notification names three of the eight: the ones waiting longest, oldest first
    assert sample.orders == ["SO-S0", "SO-S1", "SO-S2"]


PIPELINE = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
    labels: {severity: critical}
  - name: SystemQuiet
    signal: system_quiet
    op: ">="
    threshold: 15m
    labels: {severity: critical}
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 30m
  routes:
    - matchers: ['alertname="SystemQuiet"']
      receiver: hook
      mute_time_intervals: [always]
receivers:
  - name: hook
    webhook_configs: [{url: "URL"}]
inhibit_rules:
  - source_matchers: ['alertname="SystemQuiet"']
    target_matchers: ['alertname="WarehouseStalled"']
time_intervals:
  - name: always
    time_intervals: [{times: [{start_time: "00:00", end_time: "24:00"}]}]
"""


@pytest.fixture
def hook() -> Iterator[Recorder]:
    with http_recorder() as recorder:
        yield recorder


def test_a_quiet_system_inhibits_the_stalled_order_alerts_it_causes(store: Store, hook: Recorder) -> None:
    stalled_warehouse(store)  # the WMS (wms-1) last sent spans two hours before T0
    evaluator = Evaluator(store, parse_rules(PIPELINE.replace("URL", hook.url)), SETTINGS)
    evaluator.evaluate_once(at(0))
    alerts = {a.rule: a for a in state.list_alerts(store, states=["firing"])}
    assert set(alerts) == {"WarehouseStalled", "SystemQuiet"}
    # SystemQuiet is muted by its time interval, WarehouseStalled is inhibited by SystemQuiet: nothing sent
    assert hook.requests == []
    report = evaluator.evaluate_once(at(1))
    assert report.sent == []
    suppressed = {a.rule: a.suppressed_by for a in evaluator_alerts(evaluator, at(2))}
    assert suppressed["WarehouseStalled"] == ["inhibited"]
    assert suppressed["SystemQuiet"] == ["muted:always"]
    evaluator.close()


def evaluator_alerts(evaluator: Evaluator, now: datetime) -> list:  # type: ignore[type-arg]
    alerts = [a for a in state.current_alerts(evaluator.store, now, timedelta(days=1)).values()]
    evaluator.dispatcher.flush(alerts, now)
    return alerts


def test_acknowledged_alerts_stop_repeating_and_pagerduty_follows(store: Store, hook: Recorder) -> None:
    stalled = stalled_warehouse(store)
    with http_recorder(default_status=202) as pd:
        text = (
            PIPELINE.replace("URL", hook.url)
            .replace("threshold: 15m", "threshold: 100d")  # no quiet system here
            .replace(
                '    webhook_configs: [{url: "',
                f'    pagerduty_configs: [{{routing_key: k, url: "{pd.url}/v2/enqueue"}}]\n    webhook_configs: [{{url: "',
            )
        )
        evaluator = Evaluator(store, parse_rules(text), SETTINGS)
        evaluator.evaluate_once(at(0))
        assert len(hook.requests) == 1
        [alert] = state.list_alerts(store, states=["firing"])
        with pytest.raises(InvalidRequest, match="user name"):
            state.acknowledge(store, alert.fingerprint, by="  ")
        ack = state.acknowledge(store, alert.fingerprint, by="ana", comment="on it", now=at(5))
        assert ack.acked_by == "ana" and ack.fired_at == alert.fired_at
        evaluator.evaluate_once(at(6))  # the acknowledgement itself is news: one update, marked acked
        assert len(hook.requests) == 2
        for minute in (40, 80, 120):  # repeats would be due every 30m; acknowledged alerts stay quiet
            evaluator.evaluate_once(at(minute))
        assert len(hook.requests) == 2
        recover(store, stalled, at(125))
        evaluator.evaluate_once(at(130))
        evaluator.close()
    assert [r.json()["status"] for r in hook.requests] == ["firing", "firing", "resolved"]
    events = [r.json() for r in pd.requests]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert len({e["dedup_key"] for e in events}) == 1
    assert state.get_alert(store, alert.fingerprint).state is AlertState.RESOLVED
    notes = [c.note for c in state.alert_history(store, alert.fingerprint)]
    assert "acknowledged by ana: on it" in notes


def test_silence_input_is_validated(store: Store) -> None:
    with pytest.raises(InvalidRequest, match="match every alert"):
        state.create_silence(store, ['team=~".*"'], at(0), at(60), "ana", "why")
    with pytest.raises(InvalidRequest, match="end after it starts"):
        state.create_silence(store, ['team="x"'], at(60), at(0), "ana", "why")
    with pytest.raises(InvalidRequest, match="invalid matcher"):
        state.create_silence(store, ["team"], at(0), at(60), "ana", "why")
    with pytest.raises(InvalidRequest, match="say why"):
        state.create_silence(store, ['team="x"'], at(0), at(60), "ana", " ")
    silence = state.create_silence(store, ['team="x"'], at(0), at(60), "ana", "maintenance", now=at(0))
    assert [s.id for s in state.list_silences(store, active_at=at(30))] == [silence.id]
    assert state.list_silences(store, active_at=at(61)) == []


def test_hostile_segment_values_are_clipped_and_cleaned() -> None:
    from alerts.evaluator import MAX_LABEL_VALUE, alert_labels

    r = rule("    signal: system_quiet\n    labels: {team: ops}")
    labels = alert_labels(r, {"system": "erp\n<script>" + "x" * 10_000, "stage": ""})
    assert labels["alertname"] == "R" and labels["team"] == "ops"
    assert labels["system"].startswith("erp<script>xxx") and len(labels["system"]) == MAX_LABEL_VALUE
    assert "stage" not in labels


def test_inhibition_with_equal_labels_and_active_time_intervals(store: Store, hook: Recorder) -> None:
    from alerts.dispatch import Dispatcher
    from alerts.model import Alert, fingerprint
    from alerts.ssrf import TargetPolicy, guarded_client

    config = parse_rules(
        f"""
route:
  receiver: hook
  group_by: [alertname, system]
  group_wait: 0s
  repeat_interval: 24h
  routes:
    - matchers: ['team="night"']
      receiver: hook
      active_time_intervals: [nights]
receivers: [{{name: hook, webhook_configs: [{{url: "{hook.url}"}}]}}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [system]
time_intervals:
  - name: nights
    time_intervals: [{{times: [{{start_time: "22:00", end_time: "24:00"}}]}}]
"""
    )

    day = at(0).replace(hour=12, minute=0)

    def firing(name: str, **labels: str) -> Alert:
        labels = {"alertname": name, **labels}
        now = day - timedelta(minutes=1)
        return Alert(
            fingerprint=fingerprint(labels),
            rule=name,
            labels=labels,
            state=AlertState.FIRING,
            active_at=now,
            fired_at=now,
            last_active_at=now,
            evaluated_at=now,
        )

    alerts = [
        firing("ErpDown", severity="critical", system="erp-east"),
        firing("SlowHops", severity="warning", system="erp-east"),  # inhibited: same system
        firing("SlowHops", severity="warning", system="erp-west"),  # not inhibited
        firing("Nightly", severity="warning", system="batch", team="night"),  # only sent at night
    ]
    dispatcher = Dispatcher(store, config, SETTINGS, guarded_client(TargetPolicy.of(True), 5.0))
    dispatcher.flush(alerts, day)
    sent = sorted(
        (r.json()["groupLabels"]["alertname"], r.json()["groupLabels"]["system"]) for r in hook.requests
    )
    assert sent == [("ErpDown", "erp-east"), ("SlowHops", "erp-west")]
    assert alerts[1].suppressed_by == ["inhibited"] and alerts[3].suppressed_by == [
        "muted:outside active time"
    ]
    dispatcher.flush(alerts, day.replace(hour=22, minute=30))
    assert len(hook.requests) == 3 and hook.requests[2].json()["groupLabels"]["alertname"] == "Nightly"
    dispatcher.close()
