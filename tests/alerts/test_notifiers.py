"""Each notifier against a real receiver on 127.0.0.1: exact payloads, retries, the notification log."""

from __future__ import annotations

import ssl
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from clock import ANCHOR
from pydantic import SecretStr
from support.ports import refused_port
from support.receivers import http_recorder, smtp_server

from alerts import state
from alerts.dispatch import Dispatcher
from alerts.model import Ack, Alert, AlertState
from alerts.notifiers.base import Message
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.pagerduty import PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.rules import EmailConfig, PagerDutyConfig, RulesError, SlackConfig, WebhookConfig, parse_rules
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, guarded_client
from storage import Store

# the tests' anchor (the notification log keeps 90 days), at half past: whole minutes
NOW = ANCHOR - timedelta(minutes=30)
EXTERNAL = "https://tower.example.com"


def alert(fp: str = "0123456789abcdef", state_: AlertState = AlertState.FIRING, **labels: str) -> Alert:
    labels = {"alertname": "SystemQuiet", "severity": "critical", "system": "erp-east", **labels}
    return Alert(
        fingerprint=fp,
        rule="SystemQuiet",
        labels=labels,
        annotations={
            "summary": "erp-east sent no spans for 20m",
            "runbook_url": "https://runbooks.example.com/quiet",
        },
        state=state_,
        value=1200.0,
        orders=["SO-1", "SO/2"],
        active_at=NOW - timedelta(minutes=5),
        fired_at=NOW,
        last_active_at=NOW,
        resolved_at=NOW + timedelta(minutes=30) if state_ is AlertState.RESOLVED else None,
        evaluated_at=NOW,
    )


def message(*alerts: Alert) -> Message:
    return Message(
        "oncall", '{}:{alertname="SystemQuiet"}', {"alertname": "SystemQuiet"}, list(alerts), EXTERNAL
    )


@pytest.fixture
def client():
    with guarded_client(TargetPolicy.of(True), 5.0) as c:
        yield c


def test_slack_block_kit_payload_escapes_user_text(client) -> None:
    hostile = alert(system="<!channel> & <https://evil.example|click>")
    hostile.annotations["summary"] = "quiet <@U123> & co"
    with http_recorder() as slack:
        delivery = SlackNotifier(
            SlackConfig(url=f"{slack.url}/services/T/B/X", channel="#ops"), client
        ).notify(message(hostile))
    assert delivery.ok
    body = slack.requests[0].json()
    assert body["channel"] == "#ops"
    assert body["text"] == "[FIRING:1] SystemQuiet"
    header, section, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:1] SystemQuiet", "emoji": False},
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    text = section["text"]["text"]
    assert text.splitlines() == [
        "*FIRING* quiet &lt;@U123&gt; &amp; co",
        "`alertname=SystemQuiet, severity=critical, system=&lt;!channel&gt; &amp; &lt;https://evil.example¦click&gt;`".replace(
            "¦", "|"
        ),
        f"Orders: <{EXTERNAL}/orders/SO-1|SO-1>, <{EXTERNAL}/orders/SO%2F2|SO/2>",
        f"<{EXTERNAL}/alerts?fingerprint=0123456789abcdef|Alert> | <https://runbooks.example.com/quiet|Runbook>",
    ]
    assert "<!channel>" not in text and "<@U123>" not in text
    assert actions == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open alerts"},
                "url": f"{EXTERNAL}/alerts",
            }
        ],
    }


def test_pagerduty_trigger_acknowledge_resolve_share_a_stable_dedup_key(client) -> None:
    config = PagerDutyConfig(routing_key="R0UT1NGKEY", url="http://placeholder/v2/enqueue")
    firing = alert()
    acked = alert()
    acked.ack = Ack(fingerprint=acked.fingerprint, fired_at=NOW, acked_by="ana", acked_at=NOW)
    resolved = alert(state_=AlertState.RESOLVED)
    with http_recorder(default_status=202) as pd:
        config.url = f"{pd.url}/v2/enqueue"
        notifier = PagerDutyNotifier(config, client)
        for a in (firing, acked, resolved):
            assert notifier.notify(message(a)).ok
    trigger, ack, resolve = (r.json() for r in pd.requests)
    key = "order-control-tower-0123456789abcdef"
    assert trigger == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": "erp-east sent no spans for 20m",
            "source": "erp-east",
            "severity": "critical",
            "timestamp": NOW.strftime("%Y-%m-%dT%H:%M:00.000Z"),
            "class": "SystemQuiet",
            "custom_details": {
                "labels": {"alertname": "SystemQuiet", "severity": "critical", "system": "erp-east"},
                "annotations": {
                    "runbook_url": "https://runbooks.example.com/quiet",
                    "summary": "erp-east sent no spans for 20m",
                },
                "value": 1200.0,
                "orders": ["SO-1", "SO/2"],
            },
        },
        "client": "Order Control Tower",
        "client_url": f"{EXTERNAL}/alerts?fingerprint=0123456789abcdef",
        "links": [
            {
                "href": f"{EXTERNAL}/alerts?fingerprint=0123456789abcdef",
                "text": "Alert SystemQuiet in Order Control Tower",
            },
            {"href": f"{EXTERNAL}/orders/SO-1", "text": "Order SO-1"},
            {"href": f"{EXTERNAL}/orders/SO%2F2", "text": "Order SO/2"},
            {"href": "https://runbooks.example.com/quiet", "text": "Runbook"},
        ],
    }
    assert ack == {"routing_key": "R0UT1NGKEY", "event_action": "acknowledge", "dedup_key": key}
    assert resolve == {"routing_key": "R0UT1NGKEY", "event_action": "resolve", "dedup_key": key}
    assert all(r.path == "/v2/enqueue" for r in pd.requests)


@pytest.mark.parametrize(
    ("label", "expected"), [("warning", "warning"), ("page", "critical"), ("weird", "error")]
)
def test_pagerduty_severity_mapping(client, label: str, expected: str) -> None:
    with http_recorder(default_status=202) as pd:
        config = PagerDutyConfig(routing_key="k", url=f"{pd.url}/v2/enqueue")
        PagerDutyNotifier(config, client).notify(message(alert(severity=label)))
    assert pd.requests[0].json()["payload"]["severity"] == expected


def test_pagerduty_non_202_is_a_failure(client) -> None:
    with http_recorder(default_status=400) as pd:
        delivery = PagerDutyNotifier(PagerDutyConfig(routing_key="k", url=f"{pd.url}/e"), client).notify(
            message(alert())
        )
    assert not delivery.ok and not delivery.retryable and delivery.status_code == 400


def test_email_with_auth(tmp_path: Path) -> None:
    with smtp_server(username="alerts", password="s3cret") as (mailbox, port):
        config = EmailConfig.model_validate(
            {
                "to": ["ops@example.com", "lead@example.com"],
                "from": "tower@example.com",
                "smarthost": f"127.0.0.1:{port}",
                "require_tls": False,
                "auth_username": "alerts",
                "auth_password": "s3cret",
            }
        )
        delivery = EmailNotifier(config, 5.0, TargetPolicy.of(True)).notify(
            message(alert(system="<b>erp</b>"))
        )
    assert delivery.ok, delivery.error
    assert mailbox.logins == ["alerts"]
    [(envelope, mail)] = mailbox.messages
    assert envelope.mail_from == "tower@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert mail["Subject"] == "[FIRING:1] SystemQuiet"
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    html = mail.get_payload()[1].get_payload(decode=True).decode()
    assert "* FIRING: erp-east sent no spans for 20m" in text
    assert f"order SO/2: {EXTERNAL}/orders/SO%2F2" in text
    assert "&lt;b&gt;erp&lt;/b&gt;" in html and "<b>erp</b>" not in html


def test_email_wrong_password_is_not_retried() -> None:
    with smtp_server(username="alerts", password="s3cret") as (mailbox, port):
        config = EmailConfig.model_validate(
            {
                "to": "ops@example.com",
                "from": "t@example.com",
                "smarthost": f"127.0.0.1:{port}",
                "require_tls": False,
                "auth_username": "alerts",
                "auth_password": "wrong",
            }
        )
        delivery = EmailNotifier(config, 5.0, TargetPolicy.of(True)).notify(message(alert()))
    assert not delivery.ok and not delivery.retryable
    assert "535" in delivery.error
    assert mailbox.messages == []


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_email_starttls_then_auth(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with smtp_server(username="alerts", password="s3cret", tls_context=context) as (mailbox, port):
        base = {
            "to": "ops@example.com",
            "from": "t@example.com",
            "smarthost": f"127.0.0.1:{port}",
            "auth_username": "alerts",
            "auth_password": "s3cret",
        }
        ok = EmailNotifier(
            EmailConfig.model_validate({**base, "tls_ca_file": str(cert)}), 5.0, TargetPolicy.of(True)
        ).notify(message(alert()))
        untrusted = EmailNotifier(EmailConfig.model_validate(base), 5.0, TargetPolicy.of(True)).notify(
            message(alert())
        )
    assert ok.ok, ok.error
    assert len(mailbox.messages) == 1 and mailbox.logins == ["alerts"]
    assert not untrusted.ok and not untrusted.retryable and "TLS" in untrusted.error


RETRY_RULES = """
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 5m, repeat_interval: 4h}
receivers:
  - name: hook
    webhook_configs: [{url: "URL"}]
"""


def _dispatcher(store: Store, url: str, sleeps: list[float]) -> Dispatcher:
    settings = AlertSettings(allow_private_targets=True, retry_attempts=4, retry_initial_backoff_s=0.5)
    client = guarded_client(TargetPolicy.of(True), 5.0)
    return Dispatcher(
        store, parse_rules(RETRY_RULES.replace("URL", url)), settings, client, sleep=sleeps.append
    )


def test_a_503_then_recovery_delivers_once_with_backoff(store: Store) -> None:
    sleeps: list[float] = []
    with http_recorder(script=[503, 503]) as hook:
        dispatcher = _dispatcher(store, hook.url, sleeps)
        [sent] = dispatcher.flush([alert()], NOW)
        assert dispatcher.flush([alert()], NOW + timedelta(minutes=1)) == []
    assert sent.delivery.ok and sent.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(hook.requests) == 3 and len(hook.delivered()) == 1
    [record] = state.notification_log(store)
    assert (record.outcome, record.attempts, record.error) == ("sent", 3, "")


def test_a_400_is_not_retried(store: Store) -> None:
    sleeps: list[float] = []
    with http_recorder(default_status=400) as hook:
        dispatcher = _dispatcher(store, hook.url, sleeps)
        [sent] = dispatcher.flush([alert()], NOW)
        # the next ticks inside group_interval do not hammer the receiver either
        assert dispatcher.flush([alert()], NOW + timedelta(minutes=1)) == []
    assert not sent.delivery.ok and sent.attempts == 1 and sleeps == []
    assert len(hook.requests) == 1
    [record] = state.notification_log(store)
    assert (record.outcome, record.attempts, record.retryable) == ("failed", 1, False)
    assert record.error.startswith("HTTP 400")


def test_retries_give_up_after_the_configured_attempts(store: Store) -> None:
    sleeps: list[float] = []
    with http_recorder(default_status=500) as hook:
        [sent] = _dispatcher(store, hook.url, sleeps).flush([alert()], NOW)
    assert not sent.delivery.ok and sent.attempts == 4 and sent.delivery.retryable
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(hook.requests) == 4


def test_a_huge_error_reply_is_read_only_up_to_a_bound(client) -> None:
    with http_recorder(default_status=503) as hook:
        hook.reply = b"<html>" + b"x" * 5_000_000
        delivery = WebhookNotifier(WebhookConfig(url=f"{hook.url}/h"), client).notify(message(alert()))
    assert not delivery.ok and delivery.retryable
    assert delivery.error.startswith("HTTP 503: <html>xxx") and len(delivery.error) < 400


def test_webhook_bearer_token_and_max_alerts(client) -> None:
    config = WebhookConfig(url="http://placeholder/h", bearer_token="t0ken", max_alerts=1)
    with http_recorder() as hook:
        config.url = SecretStr(f"{hook.url}/h")
        delivery = WebhookNotifier(config, client).notify(message(alert("a" * 16), alert("b" * 16)))
    assert delivery.ok
    [request] = hook.requests
    assert request.headers["Authorization"] == "Bearer t0ken"
    body = request.json()
    assert body["truncatedAlerts"] == 1 and [a["fingerprint"] for a in body["alerts"]] == ["a" * 16]


def test_a_broken_integration_does_not_stop_the_others(store: Store) -> None:
    with http_recorder() as hook, refused_port() as closed:
        config = parse_rules(
            f"route: {{receiver: both, group_wait: 0s}}\nreceivers: [{{name: both, webhook_configs: [{{url: '{hook.url}/h'}}]}}]\n"
        )
        # a config object built by code, bypassing validation: its header breaks the e-mail notifier
        broken = EmailConfig.model_construct(
            to=["ops@example.com"],
            from_="bad\nheader@example.com",
            smarthost=f"127.0.0.1:{closed}",
            require_tls=False,
            auth_username=None,
            auth_password=None,
            tls_ca_file=None,
            send_resolved=True,
        )
        config.receivers[0].email_configs.append(broken)
        settings = AlertSettings(allow_private_targets=True, retry_attempts=3)
        sent = Dispatcher(store, config, settings, guarded_client(TargetPolicy.of(True), 5.0)).flush(
            [alert()], NOW
        )
    outcome = {s.integration: s for s in sent}
    assert outcome["webhook[0]"].delivery.ok and len(hook.requests) == 1
    email = outcome["email[0]"]
    assert not email.delivery.ok and not email.delivery.retryable and email.attempts == 1
    assert email.delivery.error.startswith("ValueError")


def test_email_addresses_are_validated() -> None:
    with pytest.raises(RulesError, match=r"email_configs\[0\]\.from: .*not an e-mail address"):
        parse_rules(
            "receivers:\n  - name: r\n    email_configs: [{to: a@example.com, from: \"x\\ny@example.com\", smarthost: 'h:25'}]\n"
        )
    with pytest.raises(RulesError, match=r"email_configs\[0\]\.to: .*not an e-mail address: 'nobody'"):
        parse_rules(
            "receivers:\n  - name: r\n    email_configs: [{to: nobody, from: a@example.com, smarthost: 'h:25'}]\n"
        )


def test_an_smtp_4xx_is_retried_and_a_5xx_is_not(store: Store) -> None:
    with smtp_server() as (mailbox, port):
        config = parse_rules(
            "route: {receiver: mail, group_wait: 0s}\n"
            "receivers:\n  - name: mail\n"
            f"    email_configs: [{{to: ops@example.com, from: t@example.com, smarthost: '127.0.0.1:{port}', require_tls: false}}]\n"
        )
        # the relay is on loopback: allowed by name, as an internal relay would be
        settings = AlertSettings(
            retry_attempts=3, retry_initial_backoff_s=0, allowed_targets=[f"127.0.0.1:{port}"]
        )
        dispatcher = Dispatcher(store, config, settings, guarded_client(TargetPolicy.of(False), 5.0))
        mailbox.replies = ["451 4.3.0 mailbox busy, try again"]
        [sent] = dispatcher.flush([alert("a" * 16)], NOW)
        assert sent.delivery.ok and sent.attempts == 2 and len(mailbox.messages) == 1
        mailbox.replies = ["554 5.7.1 rejected"]
        [refused] = dispatcher.flush(
            [alert("a" * 16), alert("b" * 16, alertname="Other")], NOW + timedelta(minutes=10)
        )
        dispatcher.close()
    assert not refused.delivery.ok and refused.attempts == 1 and "554" in refused.delivery.error
    assert len(mailbox.messages) == 1
