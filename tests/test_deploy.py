"""The deployment files parse and agree with the roles and settings the code defines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from tower.roles import ROLES
from tower.settings import TowerSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _roles(args: list[str]) -> list[str]:
    return args[args.index("--roles") + 1].split(",") if "--roles" in args else list(ROLES)


def test_compose_services_use_known_roles_and_one_scheduler() -> None:
    compose = _documents(DEPLOY / "compose" / "docker-compose.yml")[0]
    roles = {}
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if command[:2] == ["tower", "serve"]:
            roles[name] = _roles(command)
    assert sorted(r for rs in roles.values() for r in rs) == sorted(ROLES)
    assert compose["services"]["scheduler"]["deploy"]["replicas"] == 1


def test_kubernetes_runs_every_role_with_exactly_one_scheduler_and_valid_config() -> None:
    docs = _documents(DEPLOY / "kubernetes" / "tower.yaml")
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    settings = TowerSettings.model_validate(yaml.safe_load(config["data"]["tower.yaml"]))
    assert settings.storage.cluster == "tower"
    seen: dict[str, int] = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
            for role in _roles(args):
                seen[role] = seen.get(role, 0) + doc["spec"]["replicas"]
    assert set(seen) == set(ROLES)
    assert seen["scheduler"] == 1


def test_clickhouse_cluster_name_matches_the_tower_config_and_macros_are_complete() -> None:
    cluster = ET.parse(DEPLOY / "clickhouse" / "cluster.xml").getroot()
    assert cluster.find("remote_servers/tower") is not None
    hosts = {r.findtext("host") for r in cluster.iter("replica")}
    macros = {
        ET.parse(p).getroot().findtext("macros/replica") for p in (DEPLOY / "clickhouse").glob("macros-*.xml")
    }
    assert hosts == macros


def test_collector_configs_parse() -> None:
    for path in (DEPLOY / "otel-collector").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        assert config["service"]["pipelines"]["traces"]["exporters"]
