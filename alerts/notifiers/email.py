"""E-mail over SMTP (smtplib) with STARTTLS and authentication; a text part and an HTML part.

The smarthost goes through the same outbound address policy as every other target
(:mod:`alerts.ssrf`): smtplib's socket comes from :func:`alerts.ssrf.connect`, which resolves the
host once and connects only to an allowed address. Everything in the HTML part is escaped. SMTP
4xx replies and connection problems are retryable; 5xx replies (bad recipient, authentication
failure) and refused targets are not.
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts.notifiers.base import Delivery, Message, rfc3339
from alerts.rules import EmailConfig
from alerts.ssrf import ResolveError, TargetPolicy, TargetRefused, connect, split_host_port


class GuardedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose connection goes through the outbound address policy."""

    def __init__(self, policy: TargetPolicy, host: str, port: int, timeout: float) -> None:
        self.policy = policy  # before connecting: smtplib connects inside __init__
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect(host, port, self.policy, timeout)


def render(message: Message, config: EmailConfig) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.title.replace("\n", " ")[:200]
    mail["From"] = config.from_
    mail["To"] = ", ".join(config.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain="order-control-tower")
    text_lines = [message.title, ""]
    items = []
    for alert in message.alerts:
        summary = alert.annotations.get("summary") or alert.name
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        text_lines += [
            f"* {alert.state.value.upper()}: {summary}",
            f"  labels: {labels}",
            f"  since: {rfc3339(alert.fired_at or alert.active_at)}",
            f"  alert: {message.alert_url(alert)}",
        ]
        text_lines += [f"  order {o}: {message.order_url(o)}" for o in alert.orders]
        text_lines.append("")
        orders = "".join(
            f'<li><a href="{html.escape(message.order_url(o))}">{html.escape(o)}</a></li>'
            for o in alert.orders
        )
        items.append(
            f"<li><b>{html.escape(alert.state.value.upper())}</b> {html.escape(summary)}"
            f"<br><code>{html.escape(labels)}</code>"
            f'<br><a href="{html.escape(message.alert_url(alert))}">Open alert</a>'
            + (f"<ul>{orders}</ul>" if orders else "")
            + "</li>"
        )
    mail.set_content("\n".join(text_lines))
    mail.add_alternative(
        f"<html><body><h2>{html.escape(message.title)}</h2><ul>{''.join(items)}</ul></body></html>",
        subtype="html",
    )
    return mail


class EmailNotifier:
    kind = "email"

    def __init__(self, config: EmailConfig, timeout: float, policy: TargetPolicy | None = None) -> None:
        self.config = config
        self.timeout = timeout
        self.policy = policy or TargetPolicy()  # strict unless the caller says otherwise
        self.send_resolved = config.send_resolved

    def target(self) -> str:
        return f"smtp://{self.config.smarthost}"

    def notify(self, message: Message) -> Delivery:
        host, port = split_host_port(self.config.smarthost)
        mail = render(message, self.config)
        try:
            with GuardedSMTP(self.policy, host, port, self.timeout) as smtp:
                smtp.ehlo()
                if self.config.require_tls:
                    if not smtp.has_extn("starttls"):
                        return Delivery(
                            ok=False, retryable=False, error="SMTP server does not offer STARTTLS"
                        )
                    context = ssl.create_default_context(
                        cafile=str(self.config.tls_ca_file) if self.config.tls_ca_file else None
                    )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.config.auth_username:
                    password = (
                        self.config.auth_password.get_secret_value() if self.config.auth_password else ""
                    )
                    smtp.login(self.config.auth_username, password)
                refused = smtp.send_message(mail)
        except TargetRefused as exc:
            return Delivery(ok=False, retryable=False, error=str(exc))
        except ResolveError as exc:
            return Delivery(ok=False, retryable=True, error=str(exc))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Delivery(
                ok=False,
                retryable=all(400 <= c < 500 for c in codes),
                error=f"recipients refused: {exc.recipients}",
            )
        except smtplib.SMTPResponseException as exc:
            return Delivery(
                ok=False,
                retryable=400 <= exc.smtp_code < 500,
                error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
            )
        except ssl.SSLError as exc:
            return Delivery(ok=False, retryable=False, error=f"TLS failed: {exc}")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return Delivery(ok=False, retryable=True, error=f"SMTP failed: {exc}")
        if refused:
            return Delivery(ok=False, retryable=False, error=f"some recipients refused: {refused}")
        return Delivery.success()
