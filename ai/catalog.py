"""What the dashboard and the alerts name of the models, importable without the ML libraries.

The exception-cause model's classes, each model's primary and live metrics, and the latest
monitoring measurements. A process that only reads (the web role, ``tower serve`` at start) does not
import numpy, pandas or scikit-learn for these: that import alone took ~1.9 of the ~3.8 s the web
role took to start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage import SqlFiles, Store
from tracing.conventions import RootCause

SQL = SqlFiles("ai.queries")

CAUSES = [str(c) for c in RootCause]

# each model's primary metric on the holdout (what promotion compares) ...
PRIMARY_METRIC = {
    "delay": "auc",
    "duplicates": "f1",
    "spikes": "precision",
    "exception_cause": "macro_f1",
    "allocation": "on_time_in_full_rate",
}
# ... and its live accuracy once outcomes are known (ai.monitoring)
ACCURACY_METRIC = {
    "delay": "live_auc",
    "exception_cause": "live_accuracy",
    "duplicates": "live_precision",
    "spikes": "live_precision",
    "allocation": "live_on_time_in_full",
}


@dataclass
class Measurement:
    model: str
    version: int
    metric: str
    value: float
    samples: int
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


def latest(store: Store, model: str | None = None) -> dict[str, dict[str, Measurement]]:
    """The latest value of each metric of each model."""
    rows = store.rows(
        SQL["monitoring_latest"],
        {"any": int(model is None), "m": model or ""},
    )
    out: dict[str, dict[str, Measurement]] = {}
    for r in rows:
        at = r["at"].replace(tzinfo=UTC) if r["at"].tzinfo is None else r["at"]
        out.setdefault(r["Model"], {})[r["Metric"]] = Measurement(
            r["Model"],
            int(r["Version"]),
            r["Metric"],
            float(r["value"]),
            int(r["samples"]),
            json.loads(r["details"] or "{}"),
            at,
        )
    return out
