import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from datetime import datetime, UTC
from storage import StorageSettings, open_store
store = open_store(StorageSettings(data_dir=sys.argv[1]), database="default")
store.command("CREATE TABLE default.tz (ts DateTime64(9)) ENGINE = MergeTree ORDER BY ts")
store.client.insert("default.tz", [[datetime(2026, 1, 1, 12, 0, tzinfo=UTC)], [datetime(2026, 1, 1, 12, 0)]], column_names=["ts"])
print(store.query("SELECT ts, toUnixTimestamp(ts) FROM default.tz").result_rows)
"""


def test_datetimes_round_trip_as_naive_utc_whatever_the_host_time_zone(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "America/New_York"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    expected = "(datetime.datetime(2026, 1, 1, 12, 0), 1767268800)"
    assert result.stdout.count(expected) == 2, result.stdout
