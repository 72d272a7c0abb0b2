"""The store, or — while a ``tower serve`` holds the embedded store — that server's JSON API.

Commands that read or change records (``tower trace``, ``tower alerts ...``, ``tower audit``,
``tower users signout``) open the store when they can; when a ``tower serve`` holds it, the store's
lock file names the server's API and they ask that instead, with a token (``--token`` /
``TOWER_API_TOKEN``). Every failure is one clear line (:class:`ApiError`; through
:func:`store_or_api`, ``tower: ...`` and exit code 2).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import httpx

from storage import Store, StoreError, StoreLockedError, open_store
from storage.errors import TowerError
from tower import runtime
from tower.settings import TowerSettings


class ApiError(TowerError, RuntimeError):
    """The tower API could not be reached or refused the request; the message says which and why."""


def cli_actor() -> str:
    """Who runs a command, for the audit log: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli:unknown"


class Api:
    """A running tower's JSON API."""

    def __init__(self, base: str, token: str | None, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(
            base_url=self.base, headers=headers, timeout=timeout, trust_env=False, follow_redirects=False
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def response(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        """The JSON body of a successful answer (None for a 404 when ``missing_ok``); else :class:`ApiError`."""
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"the tower API at {self.base} cannot be reached: {exc}") from None
        if missing_ok and response.status_code == 404:
            return None
        if not response.is_success:
            raise ApiError(self._refusal(response))
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"the tower API at {self.base} answered {path} with something that is not JSON"
            ) from None

    def download(self, path: str, params: dict[str, str], out: BinaryIO) -> int:
        """Stream the body of ``GET path`` into ``out`` as it arrives (bounded memory, whatever its
        size); returns the bytes written. A refusal is an :class:`ApiError`."""
        written = 0
        try:
            with self.client.stream("GET", path, params=params) as response:
                if not response.is_success:
                    response.read()
                    raise ApiError(self._refusal(response))
                for chunk in response.iter_bytes(1 << 18):
                    out.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise ApiError(f"the tower API at {self.base} failed during {path}: {exc}") from None
        return written

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`response`, for commands: a failure prints one line and exits 2."""
        try:
            return self.response(method, path, **kwargs)
        except ApiError as exc:
            runtime.fail(str(exc))

    def _refusal(self, response: httpx.Response) -> str:
        try:
            body = response.json()
            detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        except ValueError:
            detail = response.text[:200]
        hint = (
            "; pass an API token with --token or TOWER_API_TOKEN"
            if response.status_code in (401, 403)
            else ""
        )
        return f"the tower API at {self.base} answered {response.status_code}{': ' + detail if detail else ''}{hint}"

    def close(self) -> None:
        self.client.close()


@contextmanager
def store_or_api(
    settings: TowerSettings, command: str, token: str | None, timeout: float = 60.0
) -> Iterator[Store | Api]:
    """The (migrated) store; or, when a ``tower serve`` holds it, that server's API (``timeout``
    per request)."""
    try:
        store = open_store(settings.storage, command=command)
    except StoreLockedError as exc:
        if not exc.api_url:
            runtime.fail(str(exc))
        with Api(exc.api_url, token, timeout) as api:
            try:
                yield api
            except ApiError as error:
                runtime.fail(str(error))
        return
    except StoreError as exc:
        runtime.fail(str(exc))
    try:
        try:
            runtime.ensure_schema(store)
        except runtime.MigrationError as exc:
            runtime.fail(str(exc))
        yield store
    finally:
        store.close()
