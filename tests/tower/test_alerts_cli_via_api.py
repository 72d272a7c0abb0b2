"""``tower alerts`` while a tower serve holds the embedded store: the commands use its JSON API.

The test process serves the real dashboard app over its store; a small helper process holds the
data directory's lock and announces that API (as ``tower serve`` does); the commands run through
the real CLI app on that data directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from support import cli
from support.receivers import http_recorder
from support.served import serving
from support.warehouse import T0, stalled_warehouse

from alerts import state
from alerts.evaluator import Evaluator
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from storage import Store
from web.accounts import Accounts
from web.settings import Role

RULES = """
rules:
  - name: WarehouseStalled
    signal: stalled_orders
    params: {age: 30m}
    group_by: [warehouse]
route: {receiver: ops, group_wait: 0s}
receivers: [{name: ops, webhook_configs: [{url: "URL"}]}]
"""


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    # silences start and end at the tests' anchor
    with serving(store, tmp_path / "data", clock=lambda: T0) as served:
        token = Accounts(store, served.settings.web).create_token("cli", Role.OPS, "test").token
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("URL", "https://hooks.example.com/x"))
        yield {**served.env, "TOWER_ALERTS__RULES_FILE": str(rules)}, token


def tower(*args: str, env: dict[str, str]) -> Result:
    return cli.invoke(*args, env=env)


def test_list_ack_and_silence_through_the_api(store: Store, served: tuple[dict[str, str], str]) -> None:
    env, token = served
    stalled_warehouse(store)
    with http_recorder() as hook:
        evaluator = Evaluator(
            store, parse_rules(RULES.replace("URL", hook.url)), AlertSettings(allow_private_targets=True)
        )
        evaluator.evaluate_once(T0)
        evaluator.close()
    [alert] = state.list_alerts(store)

    refused = tower("alerts", "list", env=env)
    assert refused.exit_code == 2
    assert "answered 401" in refused.stderr and "--token" in refused.stderr

    listed = tower("alerts", "list", "--json", "--token", token, env=env)
    assert listed.exit_code == 0, listed.stderr
    assert [a["fingerprint"] for a in json.loads(listed.stdout)["alerts"]] == [alert.fingerprint]

    logged = tower("alerts", "log", "--json", "--token", token, env=env)
    assert logged.exit_code == 0, logged.stderr
    [record] = json.loads(logged.stdout)
    assert (record["receiver"], record["integration"], record["outcome"]) == ("ops", "webhook[0]", "sent")

    acked = tower(
        "alerts",
        "ack",
        alert.fingerprint,
        "--by",
        "ignored",
        "--comment",
        "on it",
        env={**env, "TOWER_API_TOKEN": token},
    )
    assert acked.exit_code == 0, acked.stderr
    assert "acknowledged by token:cli" in acked.stdout
    assert state.get_alert(store, alert.fingerprint).ack is not None

    added = tower(
        "alerts",
        "silence",
        "add",
        'warehouse="wh-2"',
        "--author",
        "x",
        "--comment",
        "patch",
        "--duration",
        "90m",
        "--token",
        token,
        env=env,
    )
    assert added.exit_code == 0, added.stderr
    [silence] = state.list_silences(store)
    assert (silence.matchers, silence.created_by, silence.comment) == (
        ['warehouse="wh-2"'],
        "token:cli",
        "patch",
    )
    assert (silence.starts_at, silence.ends_at) == (T0, T0 + timedelta(minutes=90))
    assert [s.id for s in state.list_silences(store, active_at=T0)] == [silence.id]

    expired = tower("alerts", "silence", "expire", silence.id, "--token", token, env=env)
    assert expired.exit_code == 0, expired.stderr
    assert state.list_silences(store, active_at=T0) == []  # the tower ended it at its "now"
