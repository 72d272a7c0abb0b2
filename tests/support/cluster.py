"""An in-process ClickHouse cluster for tests: the embedded engine with a server config.

No ClickHouse server runs on the build machines, but chdb accepts a server config
(``chdb:///dir?config-file=<xml>``, i.e. ``session.Session("file:<dir>?config-file=<xml>")``). The
config written here declares ``tcp_port`` (a free port) and two clusters whose replicas are
``localhost`` and ``127.0.0.1`` on that port. The engine recognises both as itself, so it runs
Distributed tables, sharding keys, ``GLOBAL IN`` and ``distributed_product_mode`` in-process without
listening on any socket:

``tower_two_shards``  two shards (``localhost``, ``127.0.0.1``): a query that filters one
                      Distributed table by a subquery on another fails with Code 288 as on a real
                      sharded cluster.
``tower_one_shard``   one shard: the replicated single-shard layout.

What it cannot show: both shards are the same node and the same local tables, so a read through a
Distributed table over ``tower_two_shards`` returns every row once per shard (twice) -- tests of the
sharded layout assert that queries run and how rows are routed, not single-copy totals. ``ON CLUSTER``
DDL and Replicated engines need Keeper, which the embedded engine does not run: the harness renders
migrations without them (``Layout(on_cluster=False, replicated=False)``) and runs the node's DDL
itself, which is what ``ON CLUSTER`` does on a one-node cluster.

chdb runs one engine per process and this pytest process already has one (``tests/conftest.py``), so
the cluster engine lives in a worker subprocess (``python -m support.cluster``) that answers one JSON
request per line: the tower's own code (``Store``, ``migrate``, the jobs' functions) runs there.
A failed request raises :class:`ClusterError` with ClickHouse's message; ``TOWER_TEST_CLUSTER_DEBUG=1``
also prints the worker's stack.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

DEBUG_ENV = "TOWER_TEST_CLUSTER_DEBUG"
TWO_SHARDS = "tower_two_shards"
ONE_SHARD = "tower_one_shard"

CONFIG = """<clickhouse>
    <tcp_port>{port}</tcp_port>
    <remote_servers>
        <{two}>
            <shard><replica><host>localhost</host><port>{port}</port></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>
        </{two}>
        <{one}>
            <shard><replica><host>localhost</host><port>{port}</port></replica></shard>
        </{one}>
    </remote_servers>
</clickhouse>
"""


def write_config(directory: Path, port: int) -> Path:
    path = directory / "cluster.xml"
    path.write_text(CONFIG.format(port=port, two=TWO_SHARDS, one=ONE_SHARD), encoding="utf-8")
    return path


class ClusterError(RuntimeError):
    """A request failed in the cluster engine; ``str()`` is ClickHouse's (or Python's) message."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Cluster:
    """The client side: a worker subprocess running the embedded engine with the cluster config."""

    def __init__(self, data_dir: Path, config: Path) -> None:
        from support.cli import environment  # the tests' child environment (PYTHONPATH, clock)

        self.dsn = f"chdb://{data_dir}?config-file={config}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "support.cluster", self.dsn],
            env=environment(**{k: v for k, v in os.environ.items() if k == DEBUG_ENV}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
        )

    def request(self, op: str, **fields: Any) -> Any:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, **fields}, default=_encode) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise ClusterError(f"the cluster worker exited (code {self._process.wait()})", "WorkerExited")
        reply = json.loads(line)
        if not reply["ok"]:
            raise ClusterError(reply["error"], reply["kind"])
        return reply["result"]

    def query(
        self, database: str, sql: str, parameters: dict[str, Any] | None = None, **kw: Any
    ) -> list[list[Any]]:
        """Result rows (values as JSON: datetimes as ISO strings)."""
        return list(self.request("query", database=database, sql=sql, parameters=parameters, **kw))

    def command(self, database: str, sql: str, parameters: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("command", database=database, sql=sql, parameters=parameters, **kw)

    def migrate(
        self,
        database: str,
        cluster: str | None,
        layout: str,
        *,
        refuse_sharded: bool = True,
        key_attributes: dict[str, bool] | None = None,
    ) -> list[str]:
        """``tower migrate`` for ``layout`` (key attributes: the tower's unless given)."""
        return list(
            self.request(
                "migrate",
                database=database,
                cluster=cluster,
                layout=layout,
                refuse_sharded=refuse_sharded,
                key_attributes=key_attributes,
            )
        )

    def call(
        self, database: str, cluster: str | None, layout: str, target: str, *args: Any, **kwargs: Any
    ) -> Any:
        """``module:function(store, *args, **kwargs)`` in the worker, with a Store on ``database``."""
        return self.request(
            "call", database=database, cluster=cluster, layout=layout, target=target, args=args, kwargs=kwargs
        )

    def drop(self, database: str) -> None:
        self.request("drop", database=database)

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return {"$datetime": value.isoformat()}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# -- the worker (runs in the subprocess) -------------------------------------------------------


def _worker(dsn: str) -> None:
    from storage import StorageSettings, Store
    from storage.migrate import Layout, migrate
    from tracing.conventions import KEY_ROLES

    stores: dict[tuple[str, str | None, str], Store] = {}

    def store_for(database: str, cluster: str | None = None, layout: str = "single") -> Store:
        key = (database, cluster, layout)
        if key not in stores:
            settings = StorageSettings(
                dsn=dsn, data_dir=Path(dsn.split("?")[0][len("chdb://") :]), cluster=cluster, layout=layout
            )  # type: ignore[arg-type]
            stores[key] = Store(settings, database)
        return stores[key]

    def handle(request: dict[str, Any]) -> Any:
        op = request["op"]
        database = request.get("database", "default")
        if op == "query":
            store = store_for(database)
            result = store.query(request["sql"], _decode(request.get("parameters")), request.get("settings"))
            return [list(row) for row in result.result_rows]
        if op == "command":
            return store_for(database).command(
                request["sql"], _decode(request.get("parameters")), request.get("settings")
            )
        if op == "migrate":
            store = store_for(database, request["cluster"], request["layout"])
            layout = Layout(
                database,
                request["cluster"],
                store.settings.ttl_days,
                request["layout"],
                on_cluster=False,
                replicated=False,
            )
            keys = request.get("key_attributes")
            applied = migrate(
                store,
                KEY_ROLES if keys is None else keys,
                layout=layout,
                refuse_sharded=request["refuse_sharded"],
            )
            return [f"{m.version:04d}_{m.name}" for m in applied]
        if op == "call":
            module, _, name = request["target"].partition(":")
            function: Callable[..., Any] = getattr(importlib.import_module(module), name)
            store = store_for(database, request["cluster"], request["layout"])
            return function(store, *_decode(request["args"]), **_decode(request["kwargs"]))
        if op == "drop":
            store_for("default").command(f"DROP DATABASE IF EXISTS `{database}` SYNC")
            return None
        raise ValueError(f"unknown op {op!r}")

    for line in sys.stdin:
        try:
            reply = {"ok": True, "result": handle(json.loads(line))}
            text = json.dumps(reply, default=_encode)
        except Exception as exc:  # every failure goes back to the test, which asserts on it
            text = json.dumps({"ok": False, "error": str(exc), "kind": type(exc).__name__})
            if os.environ.get(DEBUG_ENV) == "1":  # the stack, for a failing test
                traceback.print_exc(file=sys.stderr)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    for store in stores.values():
        store.close()


if __name__ == "__main__":
    _worker(sys.argv[1])
