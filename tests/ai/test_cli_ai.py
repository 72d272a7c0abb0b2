"""``tower ai`` as a user runs it, through the real CLI app on a store of its own. Promotion and rollback
need a dashboard admin; bad input gets one clear line. The CLI runs in this process on the test's
database (one engine per process); ``tests/tower/test_users_cli.py`` runs ``tower`` in subprocesses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support import cli

from ai.registry import Registry
from ai.spikes import SpikeModel
from storage import Store


def _run(store: Store, *args: str, stdin: str | None = None) -> Any:
    return cli.invoke(*args, env=cli.store_env(store), input=stdin)


def test_promotion_and_rollback_need_a_dashboard_admin(store: Store) -> None:
    window = (datetime(2026, 1, 1, tzinfo=UTC),) * 4
    for precision in (0.8, 0.9):
        Registry(store).register(
            "spikes", SpikeModel(), algorithm="robust z", trained_by="test", window=window,
            train_rows=1, metrics={"precision": precision}, card={}, features=[],
        )  # fmt: skip
    assert (
        _run(
            store,
            "users",
            "add",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
            stdin="correct horse battery\n",
        ).exit_code
        == 0
    )
    assert (
        _run(
            store,
            "users",
            "add",
            "otto",
            "--role",
            "ops",
            "--password-stdin",
            stdin="correct horse battery\n",
        ).exit_code
        == 0
    )
    refused = _run(store, "ai", "promote", "spikes", "1", "--by", "otto", "--reason", "looks fine")
    assert refused.exit_code == 2 and "'otto' is not a dashboard admin" in refused.stderr
    assert _run(store, "ai", "promote", "spikes", "1", "--by", "ada", "--reason", "").exit_code == 2
    missing = _run(store, "ai", "promote", "spikes", "7", "--by", "ada", "--reason", "x")
    assert missing.exit_code == 2 and "model spikes has no version 7" in missing.stderr
    done = _run(
        store,
        "ai",
        "promote",
        "spikes",
        "1",
        "--by",
        "ada",
        "--reason",
        "precision 0.8 on the held-out week",
    )
    assert done.exit_code == 0 and "spikes version 1 is active (approved by ada)" in done.stdout
    early = _run(store, "ai", "rollback", "spikes", "--by", "ada", "--reason", "nothing before")
    assert early.exit_code == 2 and "no earlier active version" in early.stderr
    assert _run(store, "ai", "promote", "spikes", "2", "--by", "ada", "--reason", "newer").exit_code == 0
    back = _run(store, "ai", "rollback", "spikes", "--by", "ada", "--reason", "v2 flags too much")
    assert back.exit_code == 0 and "version 1 is active again" in back.stdout
    models = json.loads(_run(store, "ai", "models", "--json").stdout)
    spikes = next(m for m in models if m["model"] == "spikes")
    assert spikes["active"] == 1 and [v["status"] for v in spikes["versions"]] == ["retired", "active"]
    assert "Traceback" not in refused.stderr + missing.stderr + early.stderr


def test_bad_input_fails_with_one_clear_line(store: Store, tmp_path: Path) -> None:
    unknown = _run(store, "ai", "train", "--model", "chatbot")
    assert unknown.exit_code == 2 and "unknown model(s) chatbot" in unknown.stderr
    policy = tmp_path / "ai.yaml"
    policy.write_text("models:\n  allocation:\n    max_order_value: lots\n")
    config = tmp_path / "tower.yaml"
    config.write_text(f"ai:\n  policy_file: {policy}\n")
    bad = _run(store, "ai", "score", "--config", str(config))
    assert (
        bad.exit_code == 2
        and f"invalid AI policy: {policy} line 3: models.allocation.max_order_value" in bad.stderr
    )
    when = _run(store, "ai", "train", "--as-of", "yesterday")
    assert when.exit_code == 2 and "--as-of 'yesterday' is not an ISO date-time" in when.stderr
    nothing = _run(store, "ai", "explain", "SO-404")
    assert nothing.exit_code == 1 and "SO-404" in nothing.stderr
    few = _run(store, "ai", "evaluate", "--days", "10")
    assert few.exit_code == 2
    for done in (unknown, bad, when, nothing, few):
        assert "Traceback" not in done.stderr
