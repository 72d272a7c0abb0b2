"""``tower bench alerts``: alert evaluation and notification throughput on simulator-shaped spans.

Generates ``--spans`` spans into a fresh embedded store (the generator of ``tower bench query``),
then measures, ``--samples`` times each, how long every span signal takes to evaluate (p50/p95/max
in ms), one full ``evaluate_once`` over all of them (state persisted), and how fast the dispatcher
delivers ``--groups`` alert groups to a webhook receiver on 127.0.0.1. Prints JSON.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alerts import signals
from alerts.dispatch import Dispatcher
from alerts.evaluator import Evaluator
from alerts.model import Alert, AlertState, fingerprint
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from alerts.ssrf import TargetPolicy, guarded_client
from storage import StorageSettings, open_store
from tower import runtime
from tower.bench.query import generate

RULES = """
rules:
  - {name: StalledByWarehouse, signal: stalled_orders, params: {age: 2h, lookback: 30d}, group_by: [warehouse]}
  - {name: StalledByStage, signal: stalled_orders, params: {age: 2h, lookback: 30d}, group_by: [stage, region]}
  - {name: SystemQuiet, signal: system_quiet, params: {lookback: 1d}, op: ">=", threshold: 15m}
  - {name: ErrorRate, signal: system_error_rate, params: {window: 1h}, group_by: [system]}
  - {name: Latency, signal: system_latency, params: {window: 1h}, group_by: [system, stage]}
  - {name: SpanCount, signal: span_count, params: {window: 1h}, group_by: [channel]}
route: {receiver: hook, group_by: ["..."], group_wait: 0s}
receivers: [{name: hook, webhook_configs: [{url: "URL"}]}]
"""


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2),
    }


class _Sink(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def run_bench(
    *, spans: int, samples: int, groups: int, data_dir: Path | None, quiet: bool = False
) -> dict[str, Any]:
    if samples < 2:
        raise ValueError(f"--samples must be at least 2, got {samples}")
    owned = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="tower-bench-alerts-")) if data_dir is None else data_dir
    if (root / "clickhouse").exists():
        raise ValueError(f"{root} already holds a store; give an empty or new directory")

    def progress(message: str) -> None:
        if not quiet:
            print(f"bench alerts: {message}", file=sys.stderr, flush=True)

    from storage.settings import DEFAULT_TTL_DAYS

    settings = StorageSettings(data_dir=root, database="bench", ttl_days=dict.fromkeys(DEFAULT_TTL_DAYS, 0))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    store = open_store(settings, command="tower bench alerts")
    try:
        runtime.migrate_store(store)
        written = generate(store, spans, progress=progress)
        config = parse_rules(RULES.replace("URL", url))
        alert_settings = AlertSettings(allow_private_targets=True, retry_attempts=1)
        last = store.scalar("SELECT max(Timestamp) FROM otel_traces")
        now = last.replace(tzinfo=UTC) + timedelta(minutes=1)  # "now" is just after the newest span
        progress(f"measuring {samples} evaluations per signal")
        per_rule: dict[str, Any] = {}
        for rule in config.rules:
            times, groups_found = [], 0
            for _ in range(samples):
                t0 = time.perf_counter()
                groups_found = len(signals.evaluate(store, rule, now))
                times.append(time.perf_counter() - t0)
            per_rule[rule.name] = {"signal": rule.signal, "groups": groups_found, **_ms(times)}
        evaluator = Evaluator(store, config, alert_settings)
        t0 = time.perf_counter()
        report = evaluator.evaluate_once(now)
        full_s = time.perf_counter() - t0
        evaluator.close()

        progress(f"dispatching {groups} alert groups")
        with guarded_client(TargetPolicy.of(True), 10.0) as client:
            dispatcher = Dispatcher(store, config, alert_settings, client)
            alerts = []
            for i in range(groups):
                labels = {"alertname": "Bench", "warehouse": f"wh-{i}"}
                alerts.append(
                    Alert(
                        fingerprint=fingerprint(labels),
                        rule="Bench",
                        labels=labels,
                        state=AlertState.FIRING,
                        active_at=now,
                        fired_at=now - timedelta(minutes=1),
                        last_active_at=now,
                        evaluated_at=now,
                        orders=[f"SO-{i}"],
                    )
                )
            _Sink.received = 0
            t0 = time.perf_counter()
            sent = dispatcher.flush(alerts, now)
            dispatch_s = time.perf_counter() - t0
            dispatcher.close()
    finally:
        store.close()
        server.shutdown()
        server.server_close()
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "benchmark": "alerts",
        **written,
        "signals": per_rule,
        "evaluate_once": {
            "rules": len(config.rules),
            "state_changes": len(report.changes),
            "ms": round(full_s * 1000, 1),
        },
        "dispatch": {
            "groups": groups,
            "delivered": sum(1 for s in sent if s.delivery.ok),
            "received": _Sink.received,
            "seconds": round(dispatch_s, 3),
            "notifications_per_s": round(len(sent) / dispatch_s, 1) if dispatch_s > 0 else None,
        },
    }
