from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
from support import cli

from tower.settings import SettingsError, load_settings, masked


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TOWER_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_store_under_dot_tower() -> None:
    settings = load_settings()
    assert settings.storage.effective_dsn() == f"chdb://{Path('.tower/clickhouse').resolve()}"
    assert settings.collector.http_port == 4318 and settings.collector.grpc_port == 4317
    assert settings.storage.database == "otel"


def test_env_overrides_config_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tower.yaml"
    config.write_text("storage:\n  database: from_file\ncollector:\n  http_port: 14318\n")
    monkeypatch.setenv("TOWER_COLLECTOR__HTTP_PORT", "24318")
    settings = load_settings(config)
    assert settings.storage.database == "from_file"
    assert settings.collector.http_port == 24318


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "storage:\n  database: 'drop table; --'\n",
            "invalid setting storage.database: database must be letters",
        ),
        (
            "collector:\n  http_port: 99999\n",
            "invalid setting collector.http_port: Input should be less than or equal to 65535",
        ),
        ("collector:\n  htp_port: 1\n", "invalid setting collector.htp_port: unknown setting"),
        ("kpis:\n  intervl_s: 5\n", "invalid setting kpis.intervl_s: unknown setting"),
        ("alerts:\n  tick_secs: 5\n", "invalid setting alerts.tick_secs: unknown setting"),
        (
            "alerts:\n  tick_seconds: 5\n  tick_s: 6\n",
            "invalid setting alerts: tick_seconds is the old name of tick_s; give only tick_s",
        ),
        ("storage:\n  dsn: ftp://x\n", "invalid setting storage.dsn: dsn scheme must be chdb, http or https"),
        (
            "storage:\n  ttl_days: {otel_traces: -1}\n",
            "invalid setting storage.ttl_days: ttl_days[otel_traces] must be 0",
        ),
        ("storage: [1, 2\n", "is not valid YAML"),
        ("- just\n- a list\n", "must be a mapping of sections"),
    ],
)
def test_invalid_config_gives_one_line_naming_the_field(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    config = tmp_path / "tower.yaml"
    config.write_text(yaml_text)
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_renamed_duration_keys_are_still_read_with_a_warning_naming_the_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "tower.yaml"
    config.write_text(
        "collector:\n  agents:\n    edi: {settle_seconds: 3, poll_seconds: 0.5, export: {timeout_seconds: 4}}\n"
        "    pollers: [{name: erp, poll_seconds: 9}]\n"
    )
    monkeypatch.setenv("TOWER_ALERTS__TICK_SECONDS", "7")
    with caplog.at_level(logging.WARNING):
        settings = load_settings(config)
    edi = settings.collector.agents.edi
    assert (edi.settle_s, edi.poll_s, edi.export.timeout_s) == (3, 0.5, 4)
    assert settings.collector.agents.pollers[0].poll_s == 9
    assert settings.alerts.tick_s == 7
    warnings = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert warnings == [
        f"setting {old} is deprecated and will be refused in the next release: use {new}"
        for old, new in sorted(
            [
                ("poll_seconds", "poll_s"),
                ("poll_seconds", "poll_s"),
                ("settle_seconds", "settle_s"),
                ("tick_seconds", "tick_s"),
                ("timeout_seconds", "timeout_s"),
            ]
        )
    ]


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"config file .*nope.yaml does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_masked_settings_hide_secrets() -> None:
    settings = load_settings(
        None,
        storage={"dsn": "https://admin:s3cret@ch.example.com:8443/otel"},
        collector={"tokens": ["tok-1", "tok-2"]},
    )
    data = masked(settings)
    text = json.dumps(data)
    assert "s3cret" not in text and "tok-1" not in text
    assert data["storage"]["effective_dsn"] == "https://admin:***@ch.example.com:8443/otel"
    assert data["collector"]["tokens"] == ["***", "***"]


def _tower(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cli.tower(*args, env=env, timeout=60)


def test_config_show_prints_effective_settings_with_secrets_masked() -> None:
    result = _tower(
        "config",
        "show",
        "--json",
        env={"TOWER_STORAGE__DSN": "http://u:pw@localhost:8123/db", "TOWER_WEB__PORT": "9999"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["web"]["port"] == 9999
    assert data["storage"]["dsn"] == "***"
    assert "pw" not in result.stdout.replace("password", "")


def test_config_show_reads_a_renamed_key_and_says_what_to_use_instead() -> None:
    result = _tower("config", "show", "--json", env={"TOWER_ALERTS__TICK_SECONDS": "30"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["alerts"]["tick_s"] == 30
    assert (
        "setting tick_seconds is deprecated and will be refused in the next release: use tick_s"
        in result.stderr
    )


def test_invalid_env_stops_startup_with_one_clear_line() -> None:
    result = _tower("config", "show", env={"TOWER_WEB__PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tower: invalid setting web.port: Input should be a valid integer, unable to parse string as an integer "
        "(env TOWER_WEB__PORT or config file)"
    ]


def test_the_kpi_overlap_is_sized_for_replication_on_a_cluster(tmp_path: Path) -> None:
    from tower.scheduling import arrival_overlap

    assert arrival_overlap(load_settings()).total_seconds() == 5
    config = tmp_path / "tower.yaml"
    config.write_text("storage:\n  dsn: http://ch:8123\n  cluster: prod\n", encoding="utf-8")
    # ArrivedAt is stamped by the replica that took the insert: 5 s would skip rows replicated later
    assert arrival_overlap(load_settings(config)).total_seconds() == 120
    # the collector's own attribution step, which has no tower settings, sizes it by the store
    from storage import Store
    from tracing.attribution import Attributor

    assert Attributor(Store(load_settings(config).storage)).overlap.total_seconds() == 120
    assert Attributor(Store(load_settings().storage)).overlap.total_seconds() == 5
    config.write_text(
        "storage:\n  dsn: http://ch:8123\n  cluster: prod\nkpis:\n  arrival_overlap_s: 30\n", encoding="utf-8"
    )
    assert arrival_overlap(load_settings(config)).total_seconds() == 30
