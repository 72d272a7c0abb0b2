"""Real receivers on 127.0.0.1 for notification tests: an HTTP recorder with scripted replies, SMTP via aiosmtpd."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """Records every POST; replies with the scripted statuses in turn, then ``default_status``."""

    host: str = "127.0.0.1"
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    redirect_to: str | None = None
    reply: bytes | None = None
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.server_address[1]}"

    def delivered(self) -> list[Request]:
        """Requests answered with a 2xx."""
        return [r for r, code in zip(self.requests, self._codes, strict=True) if 200 <= code < 300]

    def __post_init__(self) -> None:
        self._codes: list[int] = []
        self._lock = threading.Lock()

    def _next(self) -> int:
        with self._lock:
            return self.script.pop(0) if self.script else self.default_status


@contextmanager
def http_recorder(
    script: list[int] | None = None,
    default_status: int = 200,
    host: str = "127.0.0.1",
    redirect_to: str | None = None,
) -> Iterator[Recorder]:
    recorder = Recorder(
        host=host, script=list(script or []), default_status=default_status, redirect_to=redirect_to
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            status = 302 if recorder.redirect_to else recorder._next()
            with recorder._lock:
                recorder.requests.append(Request(self.path, dict(self.headers), body))
                recorder._codes.append(status)
            self.send_response(status)
            if recorder.redirect_to:
                self.send_header("Location", recorder.redirect_to)
            reply = b'{"status":"success","message":"Event processed"}' if status == 202 else b"ok"
            if recorder.reply is not None:
                reply = recorder.reply
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    recorder.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP server counting the TCP sessions opened to it (``Mailbox.sessions``)."""

    def connection_made(self, transport: Any) -> None:
        self.event_handler.sessions += 1
        super().connection_made(transport)


class _OwnSocketController(Controller):
    """aiosmtpd's controller serving on a socket bound here to port 0 (never a port found free and
    released, which another process could take in between)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class Mailbox:
    messages: list[tuple[Envelope, Message]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # scripted DATA replies before accepting
    sessions: int = 0  # TCP connections made to the server by the code under test

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((envelope, message_from_bytes(content, policy=policy.default)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    username: str | None = None, password: str | None = None, tls_context: Any = None
) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()

    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        ):
            mailbox.logins.append(username or "")
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if username is not None:
        kwargs.update(authenticator=authenticate, auth_require_tls=tls_context is not None)
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    controller = _OwnSocketController(mailbox, sock, **kwargs)
    controller.start()
    mailbox.sessions = 0  # start() connects once itself to see that the server answers
    try:
        yield mailbox, port
    finally:
        controller.stop()
