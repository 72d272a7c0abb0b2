"""The rules ``tower demo`` ships fire on the simulator's data (the demo's alerts page is not empty)."""

from __future__ import annotations

import pytest
from clock import ANCHOR

from alerts.evaluator import Evaluator
from alerts.rules import load_rules
from alerts.settings import AlertSettings
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store
from tower.commands.demo import DEMO_RULES, with_demo_rules
from tower.settings import TowerSettings
from tracing.simulator import Simulator, SimulatorConfig
from tracing.sinks import write_to_store


@pytest.fixture(scope="module")
def simulated(module_store: Store) -> Store:
    write_to_store(
        module_store, Simulator(SimulatorConfig(seed=7, orders=400, days=10, end=ANCHOR)).backfill()
    )
    assert all(r.status == "ok" for r in KpiEngine(module_store, load_policy()).run_all())
    return module_store


def test_demo_uses_its_rules_unless_a_rules_file_is_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = TowerSettings()
    assert with_demo_rules(settings) == DEMO_RULES and settings.alert_settings().rules_file == DEMO_RULES
    own = tmp_path / "rules.yaml"
    own.write_text("rules: []\n")
    configured = TowerSettings(alerts=AlertSettings(rules_file=own))
    assert with_demo_rules(configured) == own


def test_every_demo_rule_fires_on_simulated_data(simulated: Store) -> None:
    config = load_rules(DEMO_RULES)
    evaluator = Evaluator(simulated, config, AlertSettings(), kpi_policy=load_policy())
    try:
        fired = {}
        for rule in config.rules:
            result, alerts, _messages = evaluator.preview(rule, ANCHOR)
            assert result.error == "", (rule.name, result.error)
            fired[rule.name] = alerts
    finally:
        evaluator.close()
    assert {name for name, alerts in fired.items() if alerts} == {r.name for r in config.rules}, {
        n: len(a) for n, a in fired.items()
    }
    for alert in fired["SlaBreached"]:
        summary = alert.annotations["summary"]
        assert "past the ship SLA at " in summary and not summary.endswith(" at")
        assert alert.labels["severity"] == "critical"
