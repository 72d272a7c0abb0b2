"""The deployment files parse and agree with the roles and settings the code defines."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from storage import StorageSettings
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
    assert settings.storage.layout == "replicated"
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


# -- issue 20: the compose cluster, its ClickHouse files, the collector's direct config, Kubernetes --

COMPOSE = DEPLOY / "compose"
CLICKHOUSE = DEPLOY / "clickhouse"
KUBERNETES = DEPLOY / "kubernetes"


def _cluster_compose() -> dict:
    return _documents(COMPOSE / "cluster.yml")[0]


def test_the_compose_cluster_has_two_shards_of_two_replicas_and_three_keepers() -> None:
    services = _cluster_compose()["services"]
    keepers = sorted(n for n in services if n.startswith("keeper-"))
    nodes = sorted(n for n in services if n.startswith("ch-"))
    assert keepers == ["keeper-1", "keeper-2", "keeper-3"]
    assert nodes == ["ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2"]
    assert sorted(services[k]["environment"]["KEEPER_SERVER_ID"] for k in keepers) == ["1", "2", "3"]
    for node in nodes:
        mounts = services[node]["volumes"]
        assert "../clickhouse/cluster.xml:/etc/clickhouse-server/config.d/cluster.xml:ro" in mounts
        assert f"../clickhouse/macros-{node[3:]}.xml:/etc/clickhouse-server/config.d/macros.xml:ro" in mounts
        assert services[node]["hostname"] == node
        # every node waits for a healthy Keeper quorum
        assert set(services[node]["depends_on"]) == set(keepers)
    for keeper in keepers:
        assert (
            "../clickhouse/keeper.xml:/etc/clickhouse-keeper/keeper_config.xml:ro"
            in services[keeper]["volumes"]
        )


def test_the_compose_cluster_takes_every_secret_from_the_environment() -> None:
    text = (COMPOSE / "cluster.yml").read_text()
    env = _cluster_compose()["services"]["ch-s1-r1"]["environment"]
    for name in ("CLICKHOUSE_PASSWORD", "CLICKHOUSE_CLUSTER_SECRET", "CLICKHOUSE_INTERSERVER_PASSWORD"):
        assert env[name] == f"${{{name}:?set {name}}}"  # compose refuses to start without it
    assert "change-me" not in text.lower()


def test_the_compose_cluster_runs_the_tower_with_a_layout_migrate_accepts() -> None:
    services = _cluster_compose()["services"]
    env = services["migrate"]["environment"]
    storage = StorageSettings(cluster=env["TOWER_STORAGE__CLUSTER"], layout=env["TOWER_STORAGE__LAYOUT"])
    assert storage.layout == "replicated"
    tower_cluster = ET.parse(CLICKHOUSE / "cluster.xml").getroot().find(f"remote_servers/{storage.cluster}")
    assert tower_cluster is not None and len(tower_cluster.findall("shard")) == 1
    assert services["migrate"]["command"] == ["tower", "migrate"]
    for role in ("collector", "web", "scheduler"):
        assert services[role]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_remote_servers_authenticate_and_point_at_the_keepers_compose_defines() -> None:
    root = ET.parse(CLICKHOUSE / "cluster.xml").getroot()
    remote_servers = root.find("remote_servers")
    assert remote_servers is not None
    clusters = list(remote_servers)
    assert [c.tag for c in clusters] == ["tower", "tower_sharded"]
    for cluster in clusters:
        secret = cluster.find("secret")
        assert secret is not None and secret.get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
        for replica in cluster.iter("replica"):
            assert replica.find("password") is None  # the secret, not a password in the file
    sharded = root.find("remote_servers/tower_sharded")
    assert sharded is not None
    assert [len(s.findall("replica")) for s in sharded.findall("shard")] == [2, 2]
    # each node's macros name the shard it sits in
    for number, shard in enumerate(sharded.findall("shard"), start=1):
        for host in (r.findtext("host") for r in shard.findall("replica")):
            macros = ET.parse(CLICKHOUSE / f"macros-{str(host)[3:]}.xml").getroot()
            assert macros.findtext("macros/shard") == str(number)
            assert macros.findtext("macros/replica") == host
    zookeeper = {(n.findtext("host"), n.findtext("port")) for n in root.iter("node")}
    keeper = ET.parse(CLICKHOUSE / "keeper.xml").getroot()
    raft = {s.findtext("hostname") for s in keeper.iter("server")}
    assert zookeeper == {(h, keeper.findtext("keeper_server/tcp_port")) for h in raft}
    assert raft == {n for n in _cluster_compose()["services"] if n.startswith("keeper-")}
    assert keeper.find("keeper_server/server_id").get("from_env") == "KEEPER_SERVER_ID"  # type: ignore[union-attr]


def test_the_cluster_test_script_is_runnable_shell_against_the_compose_cluster() -> None:
    script = COMPOSE / "cluster-tests.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    text = script.read_text()
    assert 'docker compose -f "$here/cluster.yml"' in text
    assert "TOWER_TEST_CLICKHOUSE_CLUSTER=tower" in text
    assert "tests/cluster" in text
    for service in _cluster_compose()["services"]:
        if service.startswith(("ch-", "keeper-")):
            assert service in text


def test_the_direct_collector_config_leaves_the_schema_to_tower_migrate_and_reads_credentials_from_env() -> (
    None
):
    exporter = yaml.safe_load((DEPLOY / "otel-collector" / "clickhouse-direct.yaml").read_text())[
        "exporters"
    ]["clickhouse"]
    # creating the schema itself needs cluster_name and table_engine on a cluster, and its view would
    # take the tower's view's name: the tower's migrations create the exporter's tables instead
    assert exporter["create_schema"] is False or {"cluster_name", "table_engine"} <= set(exporter)
    assert exporter["username"] == "${env:CLICKHOUSE_USER}"
    assert exporter["password"] == "${env:CLICKHOUSE_PASSWORD}"
    assert exporter["traces_table_name"] == "otel_traces"


def _applied_documents() -> list[dict]:
    """What ``kubectl apply -f deploy/kubernetes`` applies: .yaml, .yml and .json files, not subdirectories."""
    files = [p for p in KUBERNETES.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json")]
    return [d for p in files for d in _documents(p)]


def test_kubectl_apply_applies_no_placeholder_secret() -> None:
    docs = _applied_documents()
    assert docs
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert "CHANGE-ME" not in yaml.safe_dump_all(docs)
    example = _documents(KUBERNETES / "examples" / "secrets.yaml.example")
    assert example[0]["kind"] == "Secret" and example[0]["metadata"]["name"] == "tower-secrets"


def _workloads() -> list[dict]:
    return [d for d in _applied_documents() if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def test_pods_run_as_the_image_user_with_an_fs_group_for_their_volumes() -> None:
    uid = re.search(r"useradd [^&]*--uid (\d+)", (DEPLOY.parent / "Dockerfile").read_text())
    assert uid
    for workload in _workloads():
        context = workload["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == context["fsGroup"] == int(uid.group(1)), workload["metadata"]["name"]


def test_the_collector_statefulset_is_governed_by_a_headless_service() -> None:
    docs = _applied_documents()
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for stateful in (d for d in docs if d["kind"] == "StatefulSet"):
        governing = services[stateful["spec"]["serviceName"]]
        assert governing["spec"]["clusterIP"] == "None"
        assert governing["spec"]["selector"] == stateful["spec"]["selector"]["matchLabels"]


def test_only_the_migrate_job_runs_ddl_and_every_role_waits_for_the_schema() -> None:
    for workload in _workloads():
        spec = workload["spec"]["template"]["spec"]
        args = spec["containers"][0]["args"]
        if workload["kind"] == "Job":
            assert args[:2] == ["tower", "migrate"] and "--check" not in args
            continue
        assert args[:2] == ["tower", "serve"]
        waits = [c["args"] for c in spec.get("initContainers", [])]
        assert any(a[:3] == ["tower", "migrate", "--check"] and "--wait" in a for a in waits), workload[
            "metadata"
        ]


def test_every_container_has_cpu_and_memory_limits() -> None:
    for workload in _workloads():
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"] + spec.get("initContainers", []):
            limits = container["resources"]["limits"]
            assert {"cpu", "memory"} <= set(limits), (workload["metadata"]["name"], container["name"])
