"""One outbound address policy for every notification target: webhook, Slack, PagerDuty, e-mail.

Target URLs and SMTP smarthosts come from configuration that many people can edit, and the process
runs inside the network. A URL must be http(s); a host must be a DNS name or a canonical IP
literal (numeric forms such as ``0177.0.0.1``, ``2130706433``, ``0x7f.1`` or ``127.1`` are refused
when the rules are read: resolvers disagree on what they mean); and every address the host
resolves to must be a public one: loopback, link-local (169.254.0.0/16, fe80::/10), private,
unique-local, carrier-grade NAT, multicast, unspecified and reserved addresses are refused unless

- ``allow_private_targets`` is set (everything is allowed), or
- the address is inside one of ``allowed_target_networks`` / the CIDR entries of
  ``allowed_targets``, or
- the target's ``host:port`` is listed in ``allowed_targets`` (an internal relay by name).

The check happens **at connect time** (:func:`connect`), for HTTP inside the client's network
backend and for SMTP inside ``smtplib``'s socket factory: the host name is resolved once, every
address is validated, and the socket connects to a validated address, so a DNS answer that changes
between a check and the connection (rebinding) cannot slip through. Redirects are never followed
(a 3xx is a failed, non-retryable delivery).
"""

from __future__ import annotations

import ipaddress
import re
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
    """The target is not allowed (scheme, host form or address); never retried."""


_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.IGNORECASE)


def check_host(host: str) -> str:
    """Refuse a host that is neither a DNS name nor a canonical IP literal; returns it unbracketed.

    ``0177.0.0.1`` (octal), ``2130706433`` (one number), ``0x7f.1`` (hex) and ``127.1`` (short form)
    all mean 127.0.0.1 to some resolvers and something else (or nothing) to others; a DNS name's
    last label is never numeric, so such hosts are refused outright.
    """
    literal = host.strip()
    if literal.startswith("[") and literal.endswith("]"):
        literal = literal[1:-1]
        try:
            ipaddress.IPv6Address(literal.split("%", 1)[0])
        except ValueError:
            raise TargetRefused(f"target host [{literal}] is not an IPv6 address") from None
        return literal
    if ":" in literal:
        try:
            ipaddress.IPv6Address(literal.split("%", 1)[0])
            return literal
        except ValueError:
            raise TargetRefused(f"target host {literal!r} is not a host name or address") from None
    if not literal or len(literal) > 253:
        raise TargetRefused("target host is empty or longer than 253 characters")
    labels = literal.rstrip(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            ipaddress.IPv4Address(literal)
        except ValueError:
            raise TargetRefused(
                f"target host {literal!r} is an ambiguous numeric address (octal, hex, a single number or "
                "a short form); write the address as four decimal numbers, e.g. 127.0.0.1"
            ) from None
        return literal
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise TargetRefused(f"target host {literal!r} is not a valid host name")
    return literal


def check_scheme(url: str) -> None:
    """Refuse anything but an absolute http(s) URL with a valid host (parse-time check)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"target URL cannot be parsed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"target scheme must be http or https, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise TargetRefused("target URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("target URL must not carry credentials in the authority")
    check_host(parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]")
    if port == 0:
        raise TargetRefused("target port must be 1-65535")
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"target URL is invalid: {exc}") from None


def split_host_port(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError when malformed."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.lower().rstrip("."), int(port)


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)
    allowed_endpoints: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, allow_private: bool, networks: Iterable[str] = (), targets: Iterable[str] = ()
    ) -> TargetPolicy:
        """``networks``: CIDRs; ``targets``: CIDRs or ``host:port`` entries (``alerts.allowed_targets``)."""
        nets = [ipaddress.ip_network(n, strict=False) for n in networks]
        endpoints = set()
        for entry in targets:
            if "/" in entry:
                nets.append(ipaddress.ip_network(entry, strict=False))
            else:
                endpoints.add(split_host_port(entry))
        return cls(allow_private, tuple(nets), frozenset(endpoints))

    @classmethod
    def from_settings(cls, settings: Any) -> TargetPolicy:
        return cls.of(
            settings.allow_private_targets,
            settings.allowed_target_networks,
            getattr(settings, "allowed_targets", ()),
        )

    def endpoint_allowed(self, host: str, port: int) -> bool:
        return (host.strip("[]").lower().rstrip("."), port) in self.allowed_endpoints

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


def checked_addresses(host: str, port: int, policy: TargetPolicy) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses when every one may be contacted.

    Raises :class:`TargetRefused` (host form or a refused address) or :class:`ResolveError`.
    """
    check_host(host)
    addresses = resolve(host, port)
    if policy.endpoint_allowed(host, port):
        return addresses
    for address in addresses:
        why = policy.refusal(address)
        if why:
            raise TargetRefused(f"target host {host.strip('[]')} resolves to {why} address {address}")
    return addresses


def connect(host: str, port: int, policy: TargetPolicy, timeout: float | None) -> socket.socket:
    """A TCP socket connected to a checked address of ``host`` (resolved once: no rebinding)."""
    addresses = checked_addresses(host, port, policy)
    last: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"cannot connect to {host}:{port}")


class ResolveError(TowerError, OSError):
    """The host name cannot be resolved (retryable: DNS may come back)."""


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
        try:
            addresses = checked_addresses(host, port, self.policy)
        except ResolveError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is itself); :class:`ResolveError` if none."""
    literal = host.strip("[]")
    try:
        return [ipaddress.ip_address(literal.split("%", 1)[0])]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"cannot resolve {host}: {exc.strerror}") from None
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
    """Why ``url`` would be refused now (scheme, host form or resolved address), or None.

    For ``tower alerts check``; delivery re-checks at connect time. A host that cannot be resolved
    here is not reported (DNS may differ where the tower runs).
    """
    try:
        check_scheme(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        checked_addresses(host, parts.port or (443 if parts.scheme == "https" else 80), policy)
    except TargetRefused as exc:
        return str(exc)
    except ResolveError:
        return None
    return None


def check_smarthost(smarthost: str, policy: TargetPolicy) -> str | None:
    """Why an SMTP ``host:port`` would be refused now, or None (see :func:`check_target`)."""
    try:
        host, port = split_host_port(smarthost)
    except ValueError as exc:
        return str(exc)
    try:
        checked_addresses(host, port, policy)
    except TargetRefused as exc:
        return str(exc)
    except ResolveError:
        return None
    return None
