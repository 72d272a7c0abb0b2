"""``tower ai`` as a user runs it: separate processes on their own embedded store. Promotion and
rollback need a dashboard admin; bad input gets one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REGISTER = textwrap.dedent(
    """
    from datetime import UTC, datetime
    from pathlib import Path
    import sys
    from ai.registry import Registry
    from ai.spikes import SpikeModel
    from storage import StorageSettings, open_store
    from tower.runtime import migrate_store
    store = open_store(StorageSettings(data_dir=Path(sys.argv[1])), command="test")
    migrate_store(store)
    window = (datetime(2026, 1, 1, tzinfo=UTC),) * 4
    for precision in (0.8, 0.9):
        Registry(store).register("spikes", SpikeModel(), algorithm="robust z", trained_by="test", window=window,
                                 train_rows=1, metrics={"precision": precision}, card={}, features=[])
    store.close()
    """
)


def _run(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOWER_STORAGE__DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "tower.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        input=stdin,
    )


def test_promotion_and_rollback_need_a_dashboard_admin(tmp_path: Path) -> None:
    prepared = subprocess.run(
        [sys.executable, "-c", REGISTER, str(tmp_path / "data")], capture_output=True, text=True, timeout=300
    )
    assert prepared.returncode == 0, prepared.stderr
    assert (
        _run(
            tmp_path,
            "users",
            "add",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
            stdin="correct horse battery\n",
        ).returncode
        == 0
    )
    assert (
        _run(
            tmp_path,
            "users",
            "add",
            "otto",
            "--role",
            "ops",
            "--password-stdin",
            stdin="correct horse battery\n",
        ).returncode
        == 0
    )
    refused = _run(tmp_path, "ai", "promote", "spikes", "1", "--by", "otto", "--reason", "looks fine")
    assert refused.returncode == 2 and "'otto' is not a dashboard admin" in refused.stderr
    assert _run(tmp_path, "ai", "promote", "spikes", "1", "--by", "ada", "--reason", "").returncode == 2
    missing = _run(tmp_path, "ai", "promote", "spikes", "7", "--by", "ada", "--reason", "x")
    assert missing.returncode == 2 and "model spikes has no version 7" in missing.stderr
    done = _run(
        tmp_path,
        "ai",
        "promote",
        "spikes",
        "1",
        "--by",
        "ada",
        "--reason",
        "precision 0.8 on the held-out week",
    )
    assert done.returncode == 0 and "spikes version 1 is active (approved by ada)" in done.stdout
    early = _run(tmp_path, "ai", "rollback", "spikes", "--by", "ada", "--reason", "nothing before")
    assert early.returncode == 2 and "no earlier active version" in early.stderr
    assert _run(tmp_path, "ai", "promote", "spikes", "2", "--by", "ada", "--reason", "newer").returncode == 0
    back = _run(tmp_path, "ai", "rollback", "spikes", "--by", "ada", "--reason", "v2 flags too much")
    assert back.returncode == 0 and "version 1 is active again" in back.stdout
    models = json.loads(_run(tmp_path, "ai", "models", "--json").stdout)
    spikes = next(m for m in models if m["model"] == "spikes")
    assert spikes["active"] == 1 and [v["status"] for v in spikes["versions"]] == ["retired", "active"]
    assert "Traceback" not in refused.stderr + missing.stderr + early.stderr


def test_bad_input_fails_with_one_clear_line(tmp_path: Path) -> None:
    unknown = _run(tmp_path, "ai", "train", "--model", "chatbot")
    assert unknown.returncode == 2 and "unknown model(s) chatbot" in unknown.stderr
    policy = tmp_path / "ai.yaml"
    policy.write_text("models:\n  allocation:\n    max_order_value: lots\n")
    config = tmp_path / "tower.yaml"
    config.write_text(f"ai:\n  policy_file: {policy}\n")
    bad = _run(tmp_path, "ai", "score", "--config", str(config))
    assert (
        bad.returncode == 2
        and f"invalid AI policy: {policy} line 3: models.allocation.max_order_value" in bad.stderr
    )
    when = _run(tmp_path, "ai", "train", "--as-of", "yesterday")
    assert when.returncode == 2 and "--as-of 'yesterday' is not an ISO date-time" in when.stderr
    nothing = _run(tmp_path, "ai", "explain", "SO-404")
    assert nothing.returncode == 1 and "SO-404" in nothing.stderr
    few = _run(tmp_path, "ai", "evaluate", "--days", "10")
    assert few.returncode == 2
    for done in (unknown, bad, when, nothing, few):
        assert "Traceback" not in done.stderr
