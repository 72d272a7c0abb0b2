"""The hop projection is defined once — order_spans' MATERIALIZED columns, which the KPI jobs, SLAs,
exceptions and alert signals read — and mirrored for spans in Python (tracing.projection, which the
timeline uses). Both run over the same hostile spans here and must agree on every one."""

from __future__ import annotations

import itertools
from datetime import timedelta

from clock import ANCHOR

from storage import Store
from storage.schema import OTEL_TRACES_COLUMNS
from tracing import projection
from tracing.attribution import SCOPE_KEYS, STRONG_KEYS

MANUAL = [
    "true",
    "TRUE",
    " True ",
    "\ttrue\n",
    "1",
    "yes",
    "YES",
    "",
    "false",
    "0",
    "no",
    "tru",
    "truE!",
    "\uff54\uff52\uff55\uff45",  # fullwidth "true"
]
USERS = ["", "ana@example.com", " "]
INSTANCES = [("", ""), ("erp-east", ""), ("", "erp-west"), ("erp-east", "erp-west")]
KINDS = [("", ""), ("erp", ""), ("", "wms"), ("erp", "wms")]
EXCEPTIONS = [
    ("", ""),
    ("backorder", ""),
    ("backorder", "resolved"),
    ("", "resolved"),
    ("credit_hold", "opened"),
]


def test_sql_and_python_project_every_hostile_span_alike(store: Store) -> None:
    rows = []
    cases = list(itertools.product(MANUAL, USERS, INSTANCES, KINDS, EXCEPTIONS))[
        ::7
    ]  # a spread of combinations
    for n, (manual, user, (span_inst, res_inst), (span_kind, res_kind), (exc, outcome)) in enumerate(cases):
        attributes = {
            k: v
            for k, v in {
                "order.id": f"SO-P{n}",
                "order.stage": ["capture", "pick", "", "invoice"][n % 4],
                "order.manual_touch": manual,
                "enduser.id": user,
                "system.instance": span_inst,
                "system.kind": span_kind,
                "order.exception.type": exc,
                "order.exception.outcome": outcome,
            }.items()
            if v != "" or n % 3 == 0  # sometimes present but empty, sometimes absent
        }
        resource = {
            k: v
            for k, v in {"service.name": "svc", "system.instance": res_inst, "system.kind": res_kind}.items()
            if v
        }
        row = dict.fromkeys(OTEL_TRACES_COLUMNS)
        row.update(
            {
                "Timestamp": ANCHOR - timedelta(days=2, seconds=n),
                "TraceId": f"{n:032x}",
                "SpanId": f"{n:016x}",
                "ParentSpanId": "",
                "TraceState": "",
                "SpanName": "hop",
                "SpanKind": "Internal",
                "ServiceName": f"svc-{n % 2}",
                "ResourceAttributes": resource,
                "ScopeName": "t",
                "ScopeVersion": "1",
                "SpanAttributes": attributes,
                "Duration": 1000,
                "StatusCode": "Ok",
                "StatusMessage": "",
                "Events.Timestamp": [],
                "Events.Name": [],
                "Events.Attributes": [],
                "Links.TraceId": [],
                "Links.SpanId": [],
                "Links.TraceState": [],
                "Links.Attributes": [],
            }
        )
        rows.append([row[c] for c in OTEL_TRACES_COLUMNS])
    store.insert("otel_traces", rows, OTEL_TRACES_COLUMNS)
    stored = store.rows(
        "SELECT SpanAttributes, ResourceAttributes, ServiceName, Stage, System, SystemKind, ManualTouch, "
        "ExceptionOutcome FROM order_spans ORDER BY OrderId"
    )
    assert len(stored) == len(cases) > 100
    touched = 0
    for r in stored:
        a, res = dict(r["SpanAttributes"]), dict(r["ResourceAttributes"])
        python = (
            projection.stage(a),
            projection.system(a, res, r["ServiceName"]),
            projection.system_kind(a, res),
            projection.manual_touch(a),
            projection.exception_outcome(a),
        )
        sql = (r["Stage"], r["System"], r["SystemKind"], bool(r["ManualTouch"]), r["ExceptionOutcome"])
        assert sql == python, (a, res)
        touched += python[3]
    assert 0 < touched < len(stored)  # both answers occur


def test_key_roles_reach_the_views_as_python_defines_them(store: Store) -> None:
    roles = dict(store.query("SELECT Name, Role FROM tower_key_roles FINAL").result_rows)
    assert {n for n, r in roles.items() if r == "strong"} == STRONG_KEYS
    assert {n for n, r in roles.items() if r in ("strong", "scope")} == SCOPE_KEYS
