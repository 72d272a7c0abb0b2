"""The in-process two-shard cluster (see ``tests/support/cluster.py``): one worker per test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support.cluster import Cluster, write_config
from support.ports import refused_port


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The embedded engine with a server config declaring ``tower_two_shards`` and ``tower_one_shard``."""
    directory = tmp_path_factory.mktemp("cluster")
    # a port nothing listens on: the engine only compares it with its own tcp_port to know that the
    # replicas are itself (it opens no socket); holding it bound keeps other processes off it
    with refused_port() as port:
        harness = Cluster(directory / "data", write_config(directory, port))
        try:
            yield harness
        finally:
            harness.close()


@pytest.fixture
def cluster_db(cluster: Cluster) -> Iterator[str]:
    """A fresh database name in the cluster engine, dropped afterwards."""
    name = f"c_{uuid.uuid4().hex[:12]}"
    yield name
    cluster.drop(name)
