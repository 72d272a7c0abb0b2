"""OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf or JSON, optionally gzip) and ``GET /metrics``.

Answers follow the OTLP/HTTP specification: 200 with ``ExportTraceServiceResponse`` (with
``partial_success`` when spans were rejected), 400 with a ``google.rpc.Status`` for a malformed
body, 401 for a missing or wrong token, 413 for a body over the limit after decompression, 415 for
an unsupported content type or encoding, 429 / 503 with ``Retry-After`` when the collector or its
spool is full. Responses use the request's content type. ``/healthz`` (liveness, always 200: ok or
degraded and why), ``/readyz`` (503 while degraded) and ``/metrics`` are on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collector.health import Health
from collector.pipeline import Pipeline, Refusal
from collector.serving import ServerLimits, uvicorn_options
from collector.settings import CollectorSettings
from storage.errors import TowerError

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRANSPORT = "http"
_PROTOBUF_MEDIA = PROTOBUF.encode()
_JSON_MEDIA = JSON.encode()

_HTTP_STATUS = {
    "unauthenticated": 401,
    "unsupported_media_type": 415,
    "unsupported_encoding": 415,
    "too_large": 413,
    "malformed": 400,
    "overloaded": 429,
    "spool_full": 503,
    "stopping": 503,
    "spool_error": 503,
}
_RPC_CODE = {
    "unauthenticated": code_pb2.UNAUTHENTICATED,
    "unsupported_media_type": code_pb2.INVALID_ARGUMENT,
    "unsupported_encoding": code_pb2.INVALID_ARGUMENT,
    "too_large": code_pb2.RESOURCE_EXHAUSTED,
    "malformed": code_pb2.INVALID_ARGUMENT,
    "overloaded": code_pb2.RESOURCE_EXHAUSTED,
    "spool_full": code_pb2.UNAVAILABLE,
    "stopping": code_pb2.UNAVAILABLE,
    "spool_error": code_pb2.UNAVAILABLE,
}


# ASGI callables: (scope, receive, send)
Asgi = Callable[
    [dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]
_EXPORT_PATH = "/v1/traces"


class _Disconnected(TowerError):
    """The client went away before its body was complete."""


def create_app(
    pipeline: Pipeline,
    health: Callable[[], Health],
    render_metrics: Callable[[], bytes] | None = None,
) -> Asgi:
    """The OTLP/HTTP ASGI app over ``pipeline``; ``health`` tells whether the writer keeps up;
    ``render_metrics`` (receiver processes) renders /metrics, default: this process's registry.

    ``POST /v1/traces`` is served by a bare ASGI callable (headers read once from the scope, the
    body taken from ``receive`` as it comes, the answer sent as two messages): per request it costs
    a fraction of a framework's routing, middleware and request/response objects. Every other
    request goes to a Starlette app (/metrics, /healthz, /readyz; 404 and 405 answers).
    """
    settings = pipeline.settings
    limit = settings.max_body_bytes

    async def answer(
        send: Callable[[Any], Awaitable[None]],
        code: int,
        body: bytes,
        media: bytes | None,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        headers = [*extra, (b"content-length", b"%d" % len(body))]
        if media is not None:
            headers.append((b"content-type", media))
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def refuse(
        send: Callable[[Any], Awaitable[None]], refusal: Refusal, as_json: bool, peer: str
    ) -> None:
        pipeline.refused(refusal, TRANSPORT, peer)
        status = status_pb2.Status(code=_RPC_CODE[refusal.kind], message=refusal.message)
        code = _HTTP_STATUS[refusal.kind]
        extra: list[tuple[bytes, bytes]] = []
        if code in (429, 503):
            extra = [(b"retry-after", str(settings.retry_after_s).encode())]
        elif code == 401:
            extra = [(b"www-authenticate", b'Bearer realm="otlp"')]
        if as_json:
            body = json_format.MessageToJson(status, indent=None).encode()
            await answer(send, code, body, _JSON_MEDIA, extra)
        else:
            await answer(send, code, status.SerializeToString(), _PROTOBUF_MEDIA, extra)

    async def read_body(receive: Callable[[], Awaitable[Any]]) -> bytes:
        """The request body (one buffer; no copy when it came in one message)."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                if received > limit:
                    raise Refusal("too_large", f"body is over the limit of {limit} bytes")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def export(
        scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.lower(), value)
        client = scope.get("client")
        peer = client[0] if client else "?"
        media = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
        as_json = media == JSON
        try:
            authorization = headers.get(b"authorization")
            pipeline.authorize(authorization.decode("latin-1") if authorization is not None else None)
            if media not in (PROTOBUF, JSON):
                raise Refusal(
                    "unsupported_media_type",
                    f"content type {media or '(none)'!r} is not supported; use {PROTOBUF} or {JSON}",
                )
            encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
            if encoding not in ("identity", "gzip", ""):
                raise Refusal(
                    "unsupported_encoding", f"content encoding {encoding!r} is not supported; use gzip"
                )
            declared = headers.get(b"content-length", b"").decode("latin-1")
            size = int(declared) if declared and declared.isdigit() else 0
            if size > limit:
                raise Refusal("too_large", f"body is {size} bytes, the limit is {limit}")
        except Refusal as refusal:
            return await refuse(send, refusal, as_json, peer)
        reserved = max(size, 64 * 1024) * (4 if encoding == "gzip" else 3)
        try:
            pipeline.admit(reserved)
        except Refusal as refusal:
            return await refuse(send, refusal, as_json, peer)
        try:
            body = await read_body(receive)
            decoded = pipeline.decode(body, json=as_json, gzip=encoding == "gzip", transport=TRANSPORT)
            future = pipeline.spool_block(decoded.conversion)
            if future is not None:
                try:
                    await asyncio.wrap_future(future)
                except OSError as exc:
                    raise Refusal("spool_error", f"spool write failed: {exc}") from None
            response = pipeline.acknowledged(decoded.conversion, TRANSPORT)
        except Refusal as refusal:
            return await refuse(send, refusal, as_json, peer)
        except _Disconnected:
            log.info("collector.client_disconnected transport=http peer=%s (nothing stored)", peer)
            return await answer(send, 400, b"", None, [])
        finally:
            pipeline.release(reserved)
        if as_json:
            await answer(
                send, 200, json_format.MessageToJson(response, indent=None).encode(), _JSON_MEDIA, []
            )
        else:
            await answer(send, 200, response.SerializeToString(), _PROTOBUF_MEDIA, [])

    async def metrics(request: Request) -> Response:
        if render_metrics is not None:
            body = render_metrics()
        else:
            pipeline.metrics.observe_spool(pipeline.spool)
            health().observe(pipeline.metrics)
            body = pipeline.metrics.render()
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(request: Request) -> Response:
        """Liveness: always 200 while the process serves; the body says ok or degraded and why."""
        return JSONResponse(health().as_dict())

    async def readyz(request: Request) -> Response:
        """Readiness: 503 while degraded (writer stalled, spool nearly full), so traffic goes elsewhere."""
        state = health()
        return JSONResponse(state.as_dict(), status_code=200 if state.ready else 503)

    async def export_route(request: Request) -> Response:  # pragma: no cover - app() serves it
        raise AssertionError("POST /v1/traces is served by the bare ASGI callable")

    others = Starlette(
        routes=[
            Route(_EXPORT_PATH, export_route, methods=["POST"]),  # other methods: 405, as before
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )

    async def app(
        scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == _EXPORT_PATH:
            await export(scope, receive, send)
        else:
            await others(scope, receive, send)

    return app


def http_limits(settings: CollectorSettings) -> ServerLimits:
    """The slow-client protection of an OTLP/HTTP port (each receiver process applies it to the
    connections the kernel hands it)."""
    return ServerLimits(
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        keep_alive_timeout_s=settings.http_keep_alive_timeout_s,
        max_connections=settings.http_max_connections,
        max_header_bytes=settings.http_max_header_bytes,
    )


class OtlpServer(uvicorn.Server):
    """uvicorn's server waking once a second instead of ten times (its tick refreshes the Date
    header and looks at ``should_exit``): an idle receiver costs next to no CPU. :meth:`stop` wakes
    it at once."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # a multiple of 10: on_tick refreshes the Date header
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            should_exit = await self.on_tick(counter)

    def stop(self) -> None:
        """Ask the server to finish (from any thread)."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(wake.set)


def serve_in_thread(
    app: Asgi, sock: socket.socket, limits: ServerLimits
) -> tuple[OtlpServer, threading.Thread]:
    """Run ``app`` with uvicorn (uvloop, httptools guarded by ``limits``: collector.serving) on a
    listening socket in a thread; returns once it serves."""
    options = uvicorn_options(limits) if _http_kind() == "httptools" else {"http": "h11"}
    config = uvicorn.Config(
        app,
        loop=_loop_kind(),
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        **options,
    )
    server = OtlpServer(config)

    def run() -> None:
        async def serve() -> None:
            await server.serve(sockets=[sock])

        if config.loop == "uvloop":
            import uvloop

            uvloop.run(serve())
        else:
            asyncio.run(serve())

    thread = threading.Thread(target=run, name="collector-http", daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        threading.Event().wait(0.01)
    return server, thread


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (port 0: the OS picks one)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _loop_kind() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return "asyncio"


def _http_kind() -> str:
    try:
        import httptools  # noqa: F401

        return "httptools"
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "h11"
