"""``tower export ocel|xes`` in its own process on an embedded store it opens itself: the files it
writes are read back by pm4py, and bad options get one clear line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from clock import ANCHOR
from support import cli

TRACING_TESTS = Path(__file__).parents[1] / "tracing"
FROM = (ANCHOR - timedelta(days=60)).isoformat()  # the scenario lies some weeks before ANCHOR
TO = (ANCHOR + timedelta(days=30)).isoformat()


def tower(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.tower("export", *args, data_dir=data_dir, cwd=data_dir, timeout=300)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trace CLI's known-answer scenario (an EDI order split into two shipments), loaded by
    another process."""
    path = tmp_path_factory.mktemp("export-cli")
    subprocess.run(
        [sys.executable, str(TRACING_TESTS / "scenarios.py"), str(path)],
        env=cli.environment(),  # tests/ on the path, and this process's clock
        check=True,
        timeout=300,
    )
    return path


def test_ocel_json_and_xes_files_read_back(data_dir: Path, tmp_path: Path) -> None:
    import pm4py

    out = tmp_path / "orders.jsonocel"
    done = tower(data_dir, "ocel", "--from", FROM, "--to", TO, "-o", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    orders = [o for o in doc["objects"] if o["type"] == "order"]
    assert orders and doc["events"]
    log = pm4py.read_ocel2_json(str(out))
    assert len(log.events) == len(doc["events"])
    xes = tmp_path / "orders.xes"
    done = tower(data_dir, "xes", "--from", FROM, "--to", TO, "-o", str(xes))
    assert done.returncode == 0, done.stderr
    assert pm4py.read_xes(str(xes))["case:concept:name"].nunique() == len(orders)
    # to standard output, narrowed by a filter nothing matches
    done = tower(data_dir, "ocel", "--from", FROM, "--to", TO, "--region", "atlantis")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["objects"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ocel", "--from", TO, "--to", FROM], "must end after it starts"),
        (["ocel", "--from", "2020-01-01", "--to", "2026-01-01"], "at most 400 days"),
        (["ocel", "--from", "2299-12-31", "--to", "2300-01-02"], "outside"),
        (["ocel", "--from", "last tuesday", "--to", TO], "is not an ISO date"),
        (["ocel", "--from", FROM, "--to", TO, "--format", "csv"], "unknown --format 'csv'"),
        (["ocel", "--from", FROM, "--to", TO, "--format", "sqlite"], "give --output"),
        (["xes", "--from", FROM, "--to", TO, "--planet", "mars"], "No such option"),
    ],
)
def test_bad_options_get_one_clear_line(data_dir: Path, args: list[str], message: str) -> None:
    done = tower(data_dir, *args)
    assert done.returncode == 2
    assert message in done.stderr
