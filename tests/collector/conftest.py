"""Fixtures of the collector tests: a real collector on free ports over the test's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.service import Collector
from collector.testing import running_collector
from storage import Store


@pytest.fixture
def collector(store: Store, tmp_path: Path) -> Iterator[Collector]:
    """A running collector (HTTP and gRPC on free ports) writing into ``store``."""
    with running_collector(store, tmp_path / "spool") as running:
        yield running
