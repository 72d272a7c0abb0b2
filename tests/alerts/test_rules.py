"""Rules files: the shipped example loads; mistakes are reported with file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.matchers import MatcherError, parse_matcher
from alerts.route import build, group_key, match
from alerts.rules import RulesError, load_rules, parse_rules
from alerts.timeintervals import interval_contains

EXAMPLE = Path(__file__).resolve().parents[2] / "alerts" / "example_rules.yaml"


def test_the_example_rules_file_loads() -> None:
    config = load_rules(EXAMPLE)
    assert [r.name for r in config.rules] == [
        "WarehouseStalled",
        "SlaBreached",
        "OrdersAtRisk",
        "ExceptionsAging",
        "TouchlessRateLow",
        "SystemQuiet",
        "SystemErrorRate",
        "WmsSlowHops",
        "EdiNoData",
        "ModelDrift",
        "ModelAccuracyLow",
    ]
    quiet = config.rule("SystemQuiet")
    assert quiet.threshold == 900.0  # "15m" as seconds
    assert quiet.for_ == timedelta(minutes=2) and quiet.keep_firing_for == timedelta(minutes=5)
    assert config.receiver("pager").pagerduty_configs[0].routing_key.get_secret_value().startswith("0123")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  - name: A\n    signal: stalled_orders\n    params: {age: 5x}\n",
            "line 4: rules[0].params: params.age: invalid duration '5x'",
        ),
        ("rules:\n  - name: A\n    signal: sla_magic\n", "line 3: rules[0].signal: Input should be"),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    group_by: [planet]\n",
            "line 4: rules[0].group_by: unknown segment 'planet'",
        ),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    for: soon\n",
            "line 4: rules[0].for: invalid duration 'soon'",
        ),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    op: '=>'\n",
            "line 4: rules[0].op: op must be one of",
        ),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    colour: red\n",
            "line 4: rules[0].colour: unknown field",
        ),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    annotations: {summary: '{{ labels.x '}\n",
            "annotation 'summary' is not a valid template",
        ),
        (
            "rules:\n  - name: A\n    signal: system_quiet\n    labels: {alertname: B}\n",
            "the alertname label is the rule name",
        ),
        (
            "rules:\n  - name: A\n    signal: stalled_orders\n",
            "line 2: rules[0].params: params.age: Field required",
        ),
        ("route:\n  receiver: nobody\n", "route.receiver 'nobody' is not a defined receiver"),
        (
            "route:\n  receiver: r\n  routes:\n    - matchers: ['team=~\"(\"']\n      receiver: r\nreceivers: [{name: r}]\n",
            "line 4: route.routes[0].matchers: invalid regular expression",
        ),
        (
            "route: {receiver: r, mute_time_intervals: [lunch]}\nreceivers: [{name: r}]\n",
            "names time interval 'lunch', which is not defined",
        ),
        (
            "time_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: [funday]\n",
            "invalid weekday 'funday'",
        ),
        (
            "time_intervals:\n  - name: t\n    time_intervals:\n      - location: Mars/Olympus\n",
            "unknown time zone location 'Mars/Olympus'",
        ),
        (
            "receivers:\n  - name: r\n    email_configs: [{to: a@b, from: c@d, smarthost: mail}]\n",
            "smarthost must be host:port",
        ),
        ("rules: [\n", "line 2: not valid YAML"),
        ("- just\n- a list\n", "line 1: expected a mapping"),
    ],
)
def test_errors_name_the_line_and_field(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    assert str(caught.value).startswith("rules.yaml")
    assert message in str(caught.value)


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path / "missing.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2_000_001)
    with pytest.raises(RulesError, match="larger than"):
        load_rules(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules(binary)


def test_matchers() -> None:
    labels = {"team": "fulfilment", "severity": "critical"}
    assert parse_matcher('team="fulfilment"').matches(labels)
    assert parse_matcher("team=~fulf.*").matches(labels)
    assert not parse_matcher('team=~"fulf"').matches(labels)  # anchored
    assert parse_matcher('region!~"east|west"').matches(labels)
    assert parse_matcher('region=""').matches(labels)
    assert str(parse_matcher('a="x\\"y"')) == 'a="x\\"y"'
    with pytest.raises(MatcherError):
        parse_matcher("team")


ROUTES = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['team="fulfilment"']
      receiver: fulfilment
      group_by: ['...']
    - matchers: ['team="finance"']
      receiver: finance
receivers: [{name: default}, {name: pager}, {name: fulfilment}, {name: finance}]
"""


def test_routing_tree_with_continue() -> None:
    tree = build(parse_rules(ROUTES).route)
    receivers = lambda labels: [n.receiver for n in match(tree, labels)]  # noqa: E731
    assert receivers({"alertname": "A", "severity": "critical", "team": "fulfilment"}) == [
        "pager",
        "fulfilment",
    ]
    assert receivers({"alertname": "A", "severity": "critical", "team": "finance"}) == ["pager", "finance"]
    assert receivers({"alertname": "A", "team": "finance"}) == ["finance"]
    assert receivers({"alertname": "A"}) == ["default"]
    node = match(tree, {"alertname": "A", "team": "fulfilment", "warehouse": "wh-2"})[0]
    assert node.group_labels({"alertname": "A", "team": "fulfilment"}) == {
        "alertname": "A",
        "team": "fulfilment",
    }
    pager = match(tree, {"alertname": "A", "severity": "critical"})[0]
    assert group_key(pager, {"alertname": "A"}) == '{}/{severity="critical"}:{alertname="A"}'


def test_weekend_mute_window_in_its_time_zone() -> None:
    config = parse_rules(
        "time_intervals:\n  - name: weekend\n    time_intervals:\n"
        "      - weekdays: ['saturday:sunday']\n        location: Europe/Berlin\n"
        "  - name: nights\n    time_intervals:\n      - times: [{start_time: '22:00', end_time: '24:00'}]\n"
        "        days_of_month: ['-1']\n        months: ['december']\n"
    )
    weekend, nights = config.time_intervals
    # Friday 23:30 UTC is Saturday 00:30 in Berlin
    assert interval_contains(weekend, datetime(2026, 1, 2, 23, 30, tzinfo=UTC))
    assert not interval_contains(weekend, datetime(2026, 1, 2, 22, 30, tzinfo=UTC))
    assert interval_contains(nights, datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert not interval_contains(nights, datetime(2026, 12, 30, 23, 0, tzinfo=UTC))
    assert not interval_contains(nights, datetime(2026, 12, 31, 21, 59, tzinfo=UTC))


def test_every_example_rule_evaluates_on_a_real_store(store) -> None:  # type: ignore[no-untyped-def]
    from support.warehouse import T0, stalled_warehouse

    from alerts.evaluator import Evaluator
    from alerts.settings import AlertSettings
    from kpis.policy import load_policy

    stalled_warehouse(store)
    evaluator = Evaluator(store, load_rules(EXAMPLE), AlertSettings(), kpi_policy=load_policy())
    report = evaluator.evaluate_once(T0)
    evaluator.close()
    assert [(r.rule, r.error) for r in report.rules] == [(r.name, "") for r in load_rules(EXAMPLE).rules]
    assert report.sent == []  # nothing here crosses a threshold long enough to notify
