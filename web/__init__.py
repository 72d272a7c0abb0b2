"""The dashboard: FastAPI app with Jinja2 pages and the JSON API under ``/api/`` (see ``create_app``).

``create_app`` is imported on first use, so that reading ``web.settings`` (every ``tower`` command
does) does not load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from web.app import create_app

        return create_app
    raise AttributeError(f"module 'web' has no attribute {name!r}")
