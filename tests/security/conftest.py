"""Fixtures for the security tests (the app itself is built by ``support.security``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from support.security import security_app

from storage import Store


@pytest.fixture(scope="module")
def app(module_store: Store) -> FastAPI:
    return security_app(module_store)
