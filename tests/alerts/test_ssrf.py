"""Notification targets are checked at connect time; private targets only when allowed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from support.receivers import http_recorder

from alerts.model import Alert, AlertState
from alerts.notifiers.base import Message
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.rules import RulesError, SlackConfig, WebhookConfig, parse_rules
from alerts.ssrf import TargetPolicy, guarded_client

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def message() -> Message:
    alert = Alert(
        fingerprint="abc",
        rule="R",
        labels={"alertname": "R"},
        state=AlertState.FIRING,
        active_at=NOW,
        fired_at=NOW,
        last_active_at=NOW,
        evaluated_at=NOW,
    )
    return Message("ops", "{}:{}", {}, [alert], "https://tower.example.com")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"),
        ("http://10.0.0.1/hook", "private address 10.0.0.1"),
        ("http://[::1]:9/hook", "loopback address ::1"),
        ("http://localhost:9/hook", "loopback address"),
        ("http://[fe80::1]/hook", "link-local address fe80::1"),
        ("http://[fd00::5]/hook", "private address fd00::5"),
        ("http://0.0.0.0:9/hook", "unspecified address 0.0.0.0"),
        ("http://224.0.0.1/hook", "multicast address 224.0.0.1"),
        ("http://[::ffff:127.0.0.1]:9/hook", "loopback address ::ffff:7f00:1"),
    ],
)
def test_private_targets_are_refused_at_connect_time(url: str, why: str) -> None:
    with guarded_client(TargetPolicy.of(False), 2.0) as client:
        delivery = WebhookNotifier(WebhookConfig(url=url), client).notify(message())
    assert not delivery.ok
    assert not delivery.retryable
    assert why in delivery.error


def test_file_scheme_is_refused_when_the_rules_are_read() -> None:
    with pytest.raises(
        RulesError,
        match=r"line 6: receivers\[0\]\.webhook_configs\[0\]\.url: target scheme must be http or https, got 'file'",
    ):
        parse_rules(
            "route: {receiver: r}\n"
            "receivers:\n"
            "  - name: r\n"
            "    webhook_configs:\n"
            "      - send_resolved: true\n"
            "        url: file:///etc/passwd\n"
        )
    # and again at delivery time, whatever built the config
    config = WebhookConfig.model_construct(
        url=SecretStr("file:///etc/passwd"), send_resolved=True, max_alerts=0
    )
    with guarded_client(TargetPolicy.of(True), 1.0) as client:
        delivery = WebhookNotifier(config, client).notify(message())
    assert not delivery.ok and not delivery.retryable
    assert "scheme must be http or https" in delivery.error


def test_a_redirect_to_loopback_is_not_followed() -> None:
    # The redirecting server is allowed explicitly (127.0.0.2/32); its redirect target is loopback.
    with http_recorder() as inner, http_recorder(host="127.0.0.2", redirect_to="") as outer:
        outer.redirect_to = f"{inner.url}/stolen"
        with guarded_client(TargetPolicy.of(False, ["127.0.0.2/32"]), 2.0) as client:
            delivery = SlackNotifier(SlackConfig(url=f"{outer.url}/hook"), client).notify(message())
    assert len(outer.requests) == 1
    assert inner.requests == []
    assert not delivery.ok and not delivery.retryable
    assert delivery.status_code == 302
    assert "not followed" in delivery.error


def test_private_targets_work_when_allowed() -> None:
    with http_recorder() as recorder, guarded_client(TargetPolicy.of(True), 2.0) as client:
        delivery = WebhookNotifier(WebhookConfig(url=f"{recorder.url}/hook"), client).notify(message())
    assert delivery.ok
    assert len(recorder.requests) == 1


def test_an_allowed_network_does_not_open_others() -> None:
    with http_recorder() as recorder, guarded_client(TargetPolicy.of(False, ["127.0.0.2/32"]), 2.0) as client:
        delivery = WebhookNotifier(WebhookConfig(url=f"{recorder.url}/hook"), client).notify(message())
    assert not delivery.ok
    assert recorder.requests == []


def test_alerts_check_names_the_targets_that_would_be_refused() -> None:
    from alerts.rules import refused_targets
    from alerts.settings import AlertSettings

    config = parse_rules(
        "route: {receiver: ops}\n"
        "receivers:\n"
        "  - name: ops\n"
        "    webhook_configs: [{url: 'http://10.0.0.1/hook'}, {url: 'https://hooks.example.com/ok'}]\n"
        "    slack_configs: [{url: 'http://[::1]:8080/slack'}]\n"
    )
    assert refused_targets(config, AlertSettings()) == [
        "receiver ops webhook[0]: target host 10.0.0.1 resolves to private address 10.0.0.1",
        "receiver ops slack[0]: target host ::1 resolves to loopback address ::1",
    ]
    assert refused_targets(config, AlertSettings(allow_private_targets=True)) == []
    assert refused_targets(config, AlertSettings(allowed_target_networks=["10.0.0.0/8", "::1/128"])) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allowed_target_networks", ["10.0.0.0/33"], "not a network in CIDR form"),
        ("external_url", "ftp://tower.example.com", "external_url must be an http(s) URL"),
    ],
)
def test_alert_settings_are_checked_when_read(field: str, value: object, message: str) -> None:
    from tower.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=re.escape(f"invalid setting alerts.{field}: {message}")):
        load_settings(alerts={field: value})
