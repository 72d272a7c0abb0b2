"""``tower bench web``: p50/p95/p99 latency of dashboard pages and their JSON API over real HTTP.

Generates the data set of ``tower bench query`` (10 million simulator-shaped spans by default) into a
fresh embedded store, runs the KPI jobs once so the KPI, SLA and exception pages have their tables,
serves the dashboard with the real ``web`` role (uvicorn on 127.0.0.1, a free port) and requests
each page as a logged-in user and each API endpoint with a Bearer token. Prints JSON.
"""

from __future__ import annotations

import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from kpis.jobs import KpiEngine
from kpis.policy import Policy, load_policy
from storage import StorageSettings, open_store
from tower import runtime
from tower.bench.query import KEYS, _percentiles, _retained, generate
from tower.settings import TowerSettings
from tower.web_service import WebService
from web.accounts import Accounts
from web.settings import Role, WebSettings

TARGET_P95_MS = 150.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _kpi_jobs(store: Any, policy: Policy, progress: Callable[[str], None]) -> dict[str, Any]:
    """Run every KPI job once over the data (the scheduler would have)."""
    started = time.perf_counter()
    results = KpiEngine(store, policy).run_all()
    elapsed = time.perf_counter() - started
    progress(f"KPI jobs in {elapsed:.0f}s")
    return {
        "ran": True,
        "seconds": round(elapsed, 1),
        "errors": [f"{r.job}: {r.error}" for r in results if getattr(r, "error", "")],
    }


def _login(client: httpx.Client, username: str, password: str) -> None:
    form = client.get("/login")
    match = _CSRF.search(form.text)
    if match is None:
        raise RuntimeError("the login page has no CSRF token")
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": match.group(1), "next": "/"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"login failed with HTTP {answer.status_code}")


class _Figure:
    """Latencies, statuses and sizes of one figure's requests."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.statuses: dict[int, int] = {}
        self.sizes: list[int] = []
        self.errors: list[str] = []

    def request(self, client: httpx.Client, path: str) -> None:
        started = time.perf_counter()
        try:
            response = client.get(path)
        except httpx.HTTPError as exc:  # counted, not fatal: the figure says how many failed
            self.times.append((time.perf_counter() - started) * 1000)
            self.statuses[0] = self.statuses.get(0, 0) + 1
            self.errors.append(f"{path}: {exc}")
            return
        self.times.append((time.perf_counter() - started) * 1000)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self.sizes.append(len(response.content))
        if response.status_code >= 500:
            self.errors.append(f"{path}: HTTP {response.status_code}")

    def summary(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict(_percentiles(self.times))
        figures["bytes_avg"] = int(sum(self.sizes) / len(self.sizes)) if self.sizes else 0
        figures["status"] = {("error" if k == 0 else str(k)): v for k, v in sorted(self.statuses.items())}
        if self.errors:
            figures["errors"] = self.errors[:3]
        return figures


def endpoints(orders: int, samples: int, seed: int) -> dict[str, tuple[str, list[str]]]:
    """figure -> (page or api, the request paths sampled)."""
    rng = random.Random(seed)

    def picks() -> list[int]:  # fresh orders per figure (plus one to warm up with)
        return [rng.randrange(orders) for _ in range(samples + 1)]

    return {
        "timeline_page": ("page", [f"/orders/{quote(KEYS['order.id'](n), safe='')}" for n in picks()]),
        "timeline_api": (
            "api",
            [f"/api/orders/{quote(KEYS['order.id'](n), safe='')}/timeline" for n in picks()],
        ),
        "search_api": (
            "api",
            [f"/api/search?q={quote(KEYS['order.customer_po'](n), safe='')}" for n in picks()],
        ),
        "kpi_page": ("page", ["/kpis"] * (samples + 1)),
        "kpi_api": ("api", ["/api/kpis"] * (samples + 1)),
        "kpi_orders_api": ("api", ["/api/kpis/touchless_rate/orders"] * (samples + 1)),
        "exceptions_page": ("page", ["/exceptions"] * (samples + 1)),
        "exceptions_api": ("api", ["/api/exceptions"] * (samples + 1)),
        "sla_page": ("page", ["/sla"] * (samples + 1)),
    }


def run_bench(
    *,
    spans: int,
    samples: int,
    seed: int,
    data_dir: Path | None,
    keep: bool,
    reuse: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Generate (or reuse a store kept by an earlier run), serve, measure; returns the JSON figures."""
    if samples < 2:
        raise ValueError(f"--samples must be at least 2, got {samples}")
    owned_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="tower-bench-web-")) if data_dir is None else data_dir
    existing = data_dir is not None and (data_dir / "clickhouse").exists()
    if existing and not reuse:
        raise ValueError(f"{data_dir} already holds a store; give an empty or new directory, or --reuse")
    if reuse and not existing:
        raise ValueError("--reuse needs --data-dir of a store kept by an earlier run (--keep)")

    def progress(message: str) -> None:
        if not quiet:
            print(f"bench web: {message}", file=sys.stderr, flush=True)

    storage = StorageSettings(data_dir=root, database="bench", ttl_days=dict.fromkeys(_retained(), 0))
    policy = load_policy()  # the shipped policy, as a tower without kpis.policy_file uses
    store = open_store(storage, command="tower bench web")
    password = secrets.token_urlsafe(16)
    service: WebService | None = None
    try:
        runtime.migrate_store(store)
        if reuse:
            orders = int(store.scalar("SELECT uniqExact(OrderId) FROM order_keys WHERE KeyType = 'order.id'"))
            written = {
                "orders": orders,
                "spans": int(store.scalar("SELECT count() FROM otel_traces")),
                "reused": True,
            }
            kpis: dict[str, Any] = {"ran": False, "reused": True}
        else:
            written = generate(store, spans, progress=progress)
            kpis = _kpi_jobs(store, policy, progress)
        web = WebSettings(
            port=0, secret_key=SecretStr(secrets.token_urlsafe(32)), login_attempts_per_minute=1000
        )
        accounts = Accounts(store, web)
        accounts.add_user("bench", password, Role.ADMIN, replace=True)
        token = accounts.create_token("bench", Role.VIEWER, "bench").token
        service = WebService(TowerSettings(storage=storage, web=web), store, policy)
        service.start()
        figures: dict[str, Any] = {}
        with (
            httpx.Client(base_url=service.url, timeout=60) as pages,
            httpx.Client(
                base_url=service.url, timeout=60, headers={"Authorization": f"Bearer {token}"}
            ) as api,
        ):
            _login(pages, "bench", password)
            plan = endpoints(written["orders"], samples, seed)
            for kind, paths in plan.values():  # warm-up (the extra sample), as a running tower is
                (pages if kind == "page" else api).get(paths[samples])
            progress(f"measuring {', '.join(plan)}: {samples} requests each, interleaved")
            measured = {name: _Figure() for name in plan}
            for i in range(samples):  # round robin, so load spikes on the machine hit every figure alike
                for name, (kind, paths) in plan.items():
                    measured[name].request(pages if kind == "page" else api, paths[i])
            figures = {name: figure.summary() for name, figure in measured.items()}
    finally:
        if service is not None:
            service.stop()
        store.close()
        if owned_dir and not keep:
            shutil.rmtree(root, ignore_errors=True)
    worst = max(f["p95_ms"] for f in figures.values())
    return {
        "benchmark": "web",
        **written,
        "kpi_jobs": kpis,
        "requests": figures,
        "target_p95_ms": TARGET_P95_MS,
        "worst_p95_ms": worst,
        "met": worst <= TARGET_P95_MS,
        "data_dir": str(root) if keep or not owned_dir else None,
    }
