"""``tower kpis run`` as a user runs it: a separate process on its own embedded store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import cli


def _tower(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.tower(*args, data_dir=tmp_path / "data", timeout=180)


def test_kpis_run_reports_every_job(tmp_path: Path) -> None:
    done = _tower(tmp_path, "kpis", "run", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [(r["job"], r["status"]) for r in results] == [
        ("order_facts", "ok"),
        ("sla_results", "ok"),
        ("order_exceptions", "ok"),
        ("kpi_daily", "ok"),
        ("kpi_system_daily", "ok"),
    ]


def test_bad_policy_and_bad_arguments_fail_with_one_clear_line(tmp_path: Path) -> None:
    policy = tmp_path / "sla.yaml"
    policy.write_text(
        "slas:\n  - name: capture_to_ship\n    start: capture.start\n    end: ship.end\n    target: tomorrow\n"
    )
    config = tmp_path / "tower.yaml"
    config.write_text(f"kpis:\n  policy_file: {policy}\n")
    done = _tower(tmp_path, "kpis", "run", "--config", str(config))
    assert done.returncode == 2
    assert f"invalid KPI policy: {policy} line 5: slas.0.target: duration 'tomorrow'" in done.stderr
    assert "Traceback" not in done.stderr
    done = _tower(tmp_path, "kpis", "run", "--from", "last tuesday")
    assert done.returncode == 2 and "--from 'last tuesday' is not an ISO date" in done.stderr
    done = _tower(tmp_path, "kpis", "run", "--job", "facts")
    assert done.returncode == 2 and "unknown job(s) facts" in done.stderr
