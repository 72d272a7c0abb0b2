"""Run a real collector in-process, for tests of anything that sends OTLP (simulator, agents, e2e).

    from collector.testing import running_collector

    with running_collector(store, tmp_path / "spool") as collector:
        exporter = OTLPSpanExporter(endpoint=collector.http_endpoint + "/v1/traces")
        ...
        collector.wait_drained()      # every acknowledged span is now in otel_traces

Ports are picked by the OS (port 0); ``collector.http_endpoint`` is ``http://127.0.0.1:<port>``,
``collector.grpc_endpoint`` is ``127.0.0.1:<port>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collector.service import Collector
from collector.settings import CollectorSettings
from storage import Store


@contextmanager
def running_collector(
    store: Store,
    spool_dir: Path,
    settings: CollectorSettings | None = None,
    **overrides: Any,
) -> Iterator[Collector]:
    """A started collector on free ports writing to ``store``; stopped (and drained) on exit.

    ``overrides`` are CollectorSettings fields, e.g. ``tokens=["s3cret"]`` or ``flush_interval_s=0.05``.
    Defaults here favour tests: short flush interval and retry delays.
    """
    base = settings.model_dump() if settings is not None else {}
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "flush_interval_s": 0.05,
        "retry_initial_backoff_s": 0.05,
        "retry_max_backoff_s": 0.5,
        **base,
        "http_port": 0,
        "grpc_port": 0,
        **overrides,
    }
    if settings is not None:
        values["tokens"] = [t.get_secret_value() for t in settings.tokens] + list(overrides.get("tokens", []))
    collector = Collector(CollectorSettings(**values), store, spool_dir)
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()
