"""Finding 2 and the octal-URL part of finding 5: one outbound address policy for every target.

The e-mail notifier with ``smarthost: 127.0.0.1:<port>`` and ``allow_private_targets: false`` opens
no SMTP session at all (a real aiosmtpd receiver counts connections); an explicit allow-list entry
lets an internal relay through; ``tower alerts check`` names every refused target, one per line;
numeric host forms such as http://0177.0.0.1/ are refused when the rules are read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import ANCHOR
from support.cli import tower
from support.receivers import smtp_server

from alerts.dispatch import Dispatcher
from alerts.model import Alert, AlertState
from alerts.rules import RulesError, parse_rules
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, guarded_client
from storage import Store

NOW = ANCHOR


def alert(name: str = "WarehouseStalled", **labels: str) -> Alert:
    all_labels = {"alertname": name, **labels}
    return Alert(
        fingerprint=hashlib.sha256(repr(sorted(all_labels.items())).encode()).hexdigest()[:16],
        rule=name,
        labels=all_labels,
        state=AlertState.FIRING,
        active_at=NOW,
        fired_at=NOW,
        last_active_at=NOW,
        evaluated_at=NOW,
    )


def email_rules(port: int) -> str:
    return (
        "route: {receiver: mail, group_wait: 0s, group_by: [system]}\n"
        "receivers:\n  - name: mail\n"
        f"    email_configs: [{{to: ops@example.com, from: tower@example.com, smarthost: '127.0.0.1:{port}', "
        "require_tls: false}]\n"
    )


def test_email_to_loopback_smarthost_opens_no_smtp_session(store: Store) -> None:
    with smtp_server() as (relay, port):
        settings = AlertSettings(allow_private_targets=False, retry_initial_backoff_s=0)
        dispatcher = Dispatcher(
            store, parse_rules(email_rules(port)), settings, guarded_client(TargetPolicy(), 5)
        )
        for minute in range(26):  # the hostile test saw 26 sessions; every tick must stay at zero
            sent = dispatcher.flush([alert(system=f"erp-{minute}")], NOW + timedelta(minutes=minute))
            assert sent and not sent[0].delivery.ok and not sent[0].delivery.retryable
            assert "loopback address 127.0.0.1" in sent[0].delivery.error
        dispatcher.close()
    assert relay.sessions == 0 and relay.messages == []


def test_an_allow_listed_internal_relay_gets_the_mail(store: Store) -> None:
    with smtp_server() as (relay, port):
        settings = AlertSettings(allowed_targets=[f"127.0.0.1:{port}"], retry_initial_backoff_s=0)
        dispatcher = Dispatcher(
            store, parse_rules(email_rules(port)), settings, guarded_client(TargetPolicy(), 5)
        )
        [sent] = dispatcher.flush([alert(system="erp-east")], NOW)
        dispatcher.close()
    assert sent.delivery.ok, sent.delivery.error
    assert relay.sessions == 1 and len(relay.messages) == 1
    # a CIDR entry works as well; another port on the same host does not
    assert TargetPolicy.of(False, targets=["127.0.0.0/8"]).refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert not TargetPolicy.of(False, targets=[f"127.0.0.1:{port}"]).endpoint_allowed("127.0.0.1", port + 1)


def test_the_relay_name_is_resolved_once_and_the_checked_address_is_used(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)  # a second lookup (a rebinding chance) would show up here
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr("alerts.ssrf.socket.getaddrinfo", resolver)
    with smtp_server() as (relay, port):
        rules = email_rules(port).replace("127.0.0.1", "relay.test")
        settings = AlertSettings(allowed_targets=[f"relay.test:{port}"], retry_attempts=1)
        dispatcher = Dispatcher(store, parse_rules(rules), settings, guarded_client(TargetPolicy(), 5))
        [sent] = dispatcher.flush([alert(system="erp-west")], NOW)
        dispatcher.close()
    assert sent.delivery.ok, sent.delivery.error
    assert calls.count("relay.test") == 1 and relay.sessions == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://0177.0.0.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/hook",
        "http://127.1/",
        "http://017700000001/",
    ],
)
def test_numeric_host_forms_are_refused_when_rules_load(url: str) -> None:
    with pytest.raises(RulesError, match=r"line 4: receivers\[0\]\.webhook_configs\[0\]\.url: .*"):
        parse_rules(
            f"route: {{receiver: hook}}\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{url}'}}]\n"
        )


def tower_alerts_check(tmp_path: Path, rules: str, **env: str) -> Any:
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    return tower(
        "alerts", "check", data_dir=tmp_path, env={"TOWER_ALERTS__RULES_FILE": str(path), **env}, cwd=tmp_path
    )


def test_tower_alerts_check_lists_every_refused_target(tmp_path: Path) -> None:
    rules = (
        "rules:\n  - {name: Quiet, signal: system_quiet, threshold: 600}\n"
        "route: {receiver: all}\n"
        "receivers:\n  - name: all\n"
        "    webhook_configs: [{url: 'http://10.0.0.1/hook'}]\n"
        "    slack_configs: [{url: 'http://[::1]:9/slack'}]\n"
        "    pagerduty_configs: [{routing_key: k, url: 'http://169.254.169.254/v2/enqueue'}]\n"
        "    email_configs: [{to: a@example.com, from: t@example.com, smarthost: '127.0.0.1:29025'}]\n"
    )
    done = tower_alerts_check(tmp_path, rules)
    assert done.returncode != 0
    lines = [line.strip() for line in done.stderr.splitlines() if line.startswith("  receiver")]
    assert len(lines) == 4, done.stderr
    assert any("email[0] smarthost 127.0.0.1:29025" in line and "loopback" in line for line in lines)
    allowed = tower_alerts_check(tmp_path, rules, TOWER_ALERTS__ALLOWED_TARGETS='["127.0.0.1:29025"]')
    assert len([ln for ln in allowed.stderr.splitlines() if ln.startswith("  receiver")]) == 3
    octal = tower_alerts_check(tmp_path, rules.replace("http://10.0.0.1/hook", "http://0177.0.0.1/"))
    assert (
        octal.returncode == 2
        and "ambiguous numeric address" in octal.stderr
        and "Traceback" not in octal.stderr
    )
