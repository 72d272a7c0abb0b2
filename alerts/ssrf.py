"""Guard notification targets against server-side request forgery.

Webhook, Slack and PagerDuty URLs come from configuration that many people can edit, and the
process runs inside the network. A target must be http(s), and every address its host resolves to
must be a public one: loopback, link-local (169.254.0.0/16, fe80::/10), private, unique-local,
carrier-grade NAT, multicast, unspecified and reserved addresses are refused unless
``allow_private_targets`` is set (or the address is inside ``allowed_target_networks``).

The check happens **at connect time**, inside the HTTP client's network backend: the host name is
resolved once, every address is validated, and the socket connects to the validated address, so a
DNS answer that changes between a check and the connection (rebinding) cannot slip through.
Redirects are never followed (a 3xx is a failed, non-retryable delivery).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from storage.errors import TowerError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(TowerError, ValueError):
    """The target is not allowed (scheme or address); never retried."""


def check_scheme(url: str) -> None:
    """Refuse anything but an absolute http(s) URL with a host (parse-time check)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"target scheme must be http or https, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise TargetRefused("target URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("target URL must not carry credentials in the authority")


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, allow_private: bool, networks: Iterable[str] = ()) -> TargetPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None when it may be contacted."""
        if self.allow_private:
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if any(address in net for net in self.allowed_networks):
            return None
        for what, hit in (
            ("loopback", address.is_loopback),
            ("link-local", address.is_link_local),
            ("unspecified", address.is_unspecified),
            ("multicast", address.is_multicast),
            ("private", address.is_private),
            ("reserved", address.is_reserved),
        ):
            if hit:
                return what
        if not address.is_global:
            return "non-public"
        return None


class _GuardedBackend(httpcore.SyncBackend):
    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        for address in addresses:
            why = self.policy.refusal(address)
            if why:
                raise TargetRefused(
                    f"target host {host} resolves to {why} address {address}; "
                    "set alerts.allow_private_targets to allow it"
                )
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is itself)."""
    literal = host.strip("[]")
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
    seen: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


def guarded_client(policy: TargetPolicy, timeout: float) -> httpx.Client:
    """An httpx client that validates every connection against ``policy`` and never follows redirects."""
    transport = httpx.HTTPTransport(retries=0)
    ssl_context = httpx.create_ssl_context()
    transport._pool = httpcore.ConnectionPool(  # the backend is the connect-time guard
        ssl_context=ssl_context, network_backend=_GuardedBackend(policy), retries=0
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "order-control-tower-alerts"},
    )


def check_target(url: str, policy: TargetPolicy) -> str | None:
    """Why ``url`` would be refused now (scheme or resolved address), or None; for ``alerts check``.

    Delivery re-checks at connect time; a host that cannot be resolved here is not reported.
    """
    try:
        check_scheme(url)
    except TargetRefused as exc:
        return str(exc)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except httpcore.ConnectError:
        return None
    for address in addresses:
        why = policy.refusal(address)
        if why:
            return f"target host {host} resolves to {why} address {address}"
    return None
