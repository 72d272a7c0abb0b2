"""Signals the KPI engine computes (SLA breaches, at-risk orders, exception aging, KPI values), read
through ``kpis.reports`` after the real KPI jobs ran over the stalled-warehouse spans."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from support.receivers import http_recorder
from support.spans import insert
from support.warehouse import T0, hop, stalled_warehouse

from alerts import signals, state
from alerts.evaluator import Evaluator
from alerts.model import AlertState
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from kpis.jobs import JOB_NAMES, KpiEngine, Window
from kpis.policy import parse_policy
from storage import Store
from tracing import conventions as c

POLICY = """
version: 1
perfect_order: {on_time_sla: allocation_to_pick}
slas:
  - name: allocation_to_pick
    kind: handoff
    stage: pick
    start: allocation.end
    end: pick.start
    target: 30m
    warn_before: 10m
"""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def kpi_store(module_store: Store) -> tuple[Store, Any]:
    stalled_warehouse(module_store)
    credit = hop("SO-1000", "credit", "erp-east", "erp", at(-170))
    credit.attributes.update({c.EXCEPTION_TYPE: "credit_hold", c.EXCEPTION_OUTCOME: "opened"})
    insert(module_store, [credit])
    policy = parse_policy(POLICY)
    engine = KpiEngine(module_store, policy)
    for job in JOB_NAMES:
        result = engine.run(job, Window(everything=True))
        assert result.status == "ok", result.error
    return module_store, policy


def rule(text: str):  # type: ignore[no-untyped-def]
    return parse_rules(
        f"rules:\n  - name: R\n{text}\nroute: {{receiver: r}}\nreceivers: [{{name: r}}]\n"
    ).rules[0]


def samples(
    kpi_store: tuple[Store, Any], text: str, now: datetime
) -> list[tuple[dict[str, str], float, list[str]]]:
    store, policy = kpi_store
    return [
        (s.group, s.value, sorted(s.orders)) for s in signals.evaluate(store, rule(text), now, policy=policy)
    ]


def test_sla_breaches_and_at_risk_orders_per_warehouse(kpi_store: tuple[Store, Any]) -> None:
    breach = "    signal: sla_breach_count\n    group_by: [warehouse]"
    assert samples(kpi_store, breach, at(0)) == [
        ({"warehouse": "wh-2"}, 3.0, ["SO-2001", "SO-2002", "SO-2003"])
    ]
    # 20 minutes earlier the first order was overdue and the other two inside the 10m warning window
    assert samples(kpi_store, breach, at(-20)) == [({"warehouse": "wh-2"}, 1.0, ["SO-2001"])]
    risk = "    signal: at_risk_orders\n    group_by: [warehouse]"
    assert samples(kpi_store, risk, at(-20)) == [({"warehouse": "wh-2"}, 2.0, ["SO-2002", "SO-2003"])]
    assert samples(kpi_store, breach + "\n    filters: {warehouse: [wh-1]}", at(0)) == []


def test_exceptions_older_than_an_age(kpi_store: tuple[Store, Any]) -> None:
    aging = "    signal: exception_age\n    params: {age: 2h}\n    group_by: [system]"
    assert samples(kpi_store, aging, at(0)) == [({"system": "erp-east"}, 1.0, ["SO-1000"])]
    assert samples(kpi_store, aging.replace("2h", "4h"), at(0)) == []


def test_sla_breach_rate_and_kpi_threshold(kpi_store: tuple[Store, Any]) -> None:
    # 1 - attainment, and attainment counts completed intervals only (README "KPIs and SLAs"): the five
    # orders picked within 30 minutes of allocation; the three stalled at wh-2 are overdue but still open
    [(group, rate, _)] = samples(kpi_store, "    signal: sla_breach_rate\n    params: {window: 2d}", at(0))
    assert (group, rate) == ({}, 0.0)
    [(_, orders, _)] = samples(kpi_store, "    signal: kpi\n    params: {kpi: orders, window: 2d}", at(0))
    assert orders == 8
    store, policy = kpi_store
    with pytest.raises(signals.SignalError, match="unknown KPI 'vibes'"):
        signals.evaluate(store, rule("    signal: kpi\n    params: {kpi: vibes}"), at(0), policy=policy)


def test_a_kpi_signal_without_the_policy_fails_instead_of_reading_the_shipped_one(
    kpi_store: tuple[Store, Any],
) -> None:
    store, _ = kpi_store
    breach = rule("    signal: sla_breach_count\n    group_by: [warehouse]")
    with pytest.raises(signals.SignalError, match="sla_breach_count needs the KPI policy"):
        signals.evaluate(store, breach, at(0))


def test_an_sla_rule_pages_through_the_evaluator(kpi_store: tuple[Store, Any]) -> None:
    store, policy = kpi_store
    config = """
rules:
  - name: PickSlaBreached
    signal: sla_breach_count
    params: {sla: allocation_to_pick}
    group_by: [warehouse]
    for: 5m
    labels: {severity: critical}
route: {receiver: hook, group_by: [alertname, warehouse], group_wait: 0s}
receivers: [{name: hook, webhook_configs: [{url: "URL"}]}]
"""
    with http_recorder() as hook:
        settings = AlertSettings(allow_private_targets=True)
        evaluator = Evaluator(
            store, parse_rules(config.replace("URL", hook.url)), settings, kpi_policy=policy
        )
        evaluator.evaluate_once(at(0))
        evaluator.evaluate_once(at(5))
        evaluator.close()
    [alert] = state.list_alerts(store, rule="PickSlaBreached")
    assert alert.state is AlertState.FIRING and alert.labels["warehouse"] == "wh-2"
    [request] = hook.requests
    assert request.json()["alerts"][0]["labels"]["warehouse"] == "wh-2"
