"""The store, or — while a ``tower serve`` holds the embedded store — that server's JSON API.

Commands that read or change records (``tower audit``, ``tower users signout``) use whichever is
available, like ``tower trace`` does; the API needs a token (``--token`` / ``TOWER_API_TOKEN``).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from storage import Store, StoreError, StoreLockedError, open_store
from tower import runtime
from tower.settings import TowerSettings


def cli_actor() -> str:
    """Who runs a command, for the audit log: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli:unknown"


class Api:
    """A running tower's JSON API; every failure is one clear line and exit code 2."""

    def __init__(self, base: str, token: str | None, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=timeout, trust_env=False)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            runtime.fail(f"the tower API at {self.base} cannot be reached: {exc}")
        if response.is_success:
            return response.json()
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
        runtime.fail(
            f"the tower API at {self.base} answered {response.status_code}{': ' + detail if detail else ''}{hint}"
        )

    def close(self) -> None:
        self.client.close()


@contextmanager
def store_or_api(settings: TowerSettings, command: str, token: str | None) -> Iterator[Store | Api]:
    """The (migrated) store; or, when a ``tower serve`` holds it, that server's API."""
    try:
        store = open_store(settings.storage, command=command)
    except StoreLockedError as exc:
        if not exc.api_url:
            runtime.fail(str(exc))
        api = Api(exc.api_url, token)
        try:
            yield api
        finally:
            api.close()
        return
    except StoreError as exc:
        runtime.fail(str(exc))
    try:
        try:
            runtime.migrate_store(store)
        except runtime.MigrationError as exc:
            runtime.fail(str(exc))
        yield store
    finally:
        store.close()
