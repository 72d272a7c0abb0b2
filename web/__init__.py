"""The dashboard: FastAPI app with Jinja2 pages and the JSON API under ``/api/`` (see ``create_app``)."""

from web.app import create_app

__all__ = ["create_app"]
