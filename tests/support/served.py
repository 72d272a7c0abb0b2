"""A tower serving a store's JSON API while "holding" a data directory, as ``tower serve`` does.

The test process serves the real dashboard app over its store; a small helper process holds the
data directory's lock and announces that API. CLI commands run on that data directory (``env``)
then find the directory held and go through the API, as they do beside a real ``tower serve``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kpis.policy import load_policy
from storage import Store
from tower.settings import TowerSettings, load_settings
from tower.web_service import WebService

HOLDER = """
import sys
from pathlib import Path
from storage import lock
path = Path(sys.argv[1])
lock.acquire(path, "tower serve (test)")
lock.announce(path, api_url=sys.argv[2])
print("ready", flush=True)
sys.stdin.read()
"""


@dataclass(frozen=True)
class Served:
    env: dict[str, str]  # a CLI's environment pointing at the held data directory
    url: str  # the serving API
    settings: TowerSettings
    service: WebService


@contextmanager
def serving(store: Store, data_dir: Path, *, clock: Callable[[], datetime] | None = None) -> Iterator[Served]:
    """Serve ``store`` on a free port and hold ``data_dir`` (created) until the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(storage={"data_dir": str(data_dir)}, web={"host": "127.0.0.1", "port": 0})
    service = WebService(settings, store, load_policy())
    if clock is not None:
        service.app.state.web.clock = clock
    service.start()
    try:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str((data_dir / "clickhouse").resolve()), service.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            env = {"TOWER_STORAGE__DATA_DIR": str(data_dir), "TOWER_CONFIG": "", "TOWER_API_TOKEN": ""}
            yield Served(env, service.url, settings, service)
        finally:
            holder.communicate(input="", timeout=10)
    finally:
        service.stop()
