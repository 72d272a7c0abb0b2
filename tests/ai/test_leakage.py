"""Features use only what was known at the prediction time: a span that ends after it (a later hop,
an exception, a manual touch, the outcome, a later order of the same customer, a resolution's reason
code) changes no feature. Spans are written by hand, as systems send them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pandas as pd
import pytest
from clock import ANCHOR

from ai import causes as ca
from ai import delay as dl
from ai import duplicates as dp
from ai import features as f
from ai.history import exception_spans, order_lines, order_outcomes, order_progress, to_ms
from kpis.jobs import KpiEngine
from kpis.policy import load_policy
from storage import Store
from tracing import conventions as c
from tracing.records import SpanRecord
from tracing.sinks import write_to_store

T0 = ANCHOR - timedelta(days=3)
_ids = itertools.count(1)


def span(
    order: str, name: str, stage: str, system: str, start: datetime, minutes: float, **attrs: object
) -> SpanRecord:
    n = next(_ids)
    return SpanRecord(
        trace_id=f"{n:032x}",
        span_id=f"{n:016x}",
        parent_span_id="",
        name=name,
        kind="Internal",
        service_name=system,
        resource={c.SERVICE_NAME: system},
        attributes={
            c.ORDER_ID: order,
            c.STAGE: stage,
            c.SYSTEM_KIND: "erp" if system.startswith("erp") else "wms" if system == "wms" else "ecommerce",
            c.SYSTEM_INSTANCE: system,
            c.CUSTOMER_ID: "C-1",
            c.CHANNEL: "portal",
            c.REGION: "east",
            **attrs,  # type: ignore[dict-item]
        },
        start_ns=int(start.timestamp() * 1e9),
        end_ns=int((start + timedelta(minutes=minutes)).timestamp() * 1e9),
    )


def capture(order: str, at: datetime, po: str) -> SpanRecord:
    return span(
        order,
        "POST /orders",
        "capture",
        "b2b-portal",
        at,
        0.1,
        **{
            c.ORDER_CUSTOMER_PO: po,
            c.ORDER_LINE_SKUS: ["ELE-10007", "FAS-10000"],
            c.ORDER_LINE_QUANTITIES: [12, 3],
            c.ORDER_AMOUNT: 812.5,
            c.ORDER_CURRENCY: "USD",
            c.ORDER_QUANTITY: 15,
            c.CUSTOMER_CREDIT_TIER: "C",
            c.CUSTOMER_TIER: "key",
            c.ORDER_PRIORITY: "standard",
        },
    )


def delay_features(store: Store, at: datetime) -> pd.DataFrame:
    KpiEngine(store, load_policy(None)).recompute()
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=5)
    lines = order_lines(store, start, end)
    progress = order_progress(store, start, end, end)
    slas = dl.supported(load_policy(None), ["capture_to_ship", "capture_to_invoice"])
    rows = pd.DataFrame(
        {
            "order_id": ["SO-1"] * 2,
            "sla": ["capture_to_ship", "capture_to_invoice"],
            "t_ms": float(to_ms(at)),
            "capture_ms": float(to_ms(T0)),
        }
    )
    assert order_outcomes(store, start, end).loc["SO-1", "capture_ms"] == to_ms(T0)
    return dl.feature_frame(rows, lines, progress, f.Backlog(progress), slas, {"east": ["WH-ATL", "WH-NJ"]})


def test_a_span_ending_after_the_prediction_time_changes_no_delay_feature(store: Store) -> None:
    at = T0 + timedelta(hours=2)
    write_to_store(
        store,
        [
            capture("SO-1", T0, "PO-1"),
            span(
                "SO-1",
                "credit check",
                "credit",
                "erp-east",
                T0 + timedelta(minutes=5),
                1,
                **{c.STATUS: "approved"},
            ),
            span(
                "SO-1",
                "price order",
                "pricing",
                "erp-east",
                T0 + timedelta(minutes=10),
                1,
                **{c.STATUS: "priced"},
            ),
        ],
    )
    before = delay_features(store, at)
    assert before.loc[0, "stage_reached"] == 3  # pricing
    assert before.loc[0, "warehouse"] == f.UNKNOWN
    later = [
        # started before the prediction time but ended after it: not known yet
        span(
            "SO-1",
            "allocate inventory",
            "allocation",
            "erp-east",
            at - timedelta(minutes=1),
            5,
            **{
                c.WAREHOUSE_ID: "WH-ATL",
                c.STATUS: "backordered",
                c.EXCEPTION_TYPE: "stockout",
                c.EXCEPTION_OUTCOME: "opened",
                c.EXCEPTION_MESSAGE: "Insufficient stock for ELE-10007 at WH-ATL",
            },
        ),
        span(
            "SO-1",
            "allocate backorder",
            "allocation",
            "erp-east",
            at + timedelta(days=2),
            1,
            **{
                c.WAREHOUSE_ID: "WH-ATL",
                c.EXCEPTION_TYPE: "stockout",
                c.EXCEPTION_OUTCOME: "auto_resolved",
                c.EXCEPTION_ROOT_CAUSE: "inventory",
            },
        ),
        span(
            "SO-1",
            "credit review",
            "credit",
            "erp-east",
            at + timedelta(hours=1),
            3,
            **{c.MANUAL_TOUCH: True, c.ENDUSER_ID: "credit01@x"},
        ),
        span(
            "SO-1", "pick", "pick", "wms", at + timedelta(days=2, hours=1), 20, **{c.WAREHOUSE_ID: "WH-ATL"}
        ),
        span(
            "SO-1",
            "ship confirm",
            "ship",
            "wms",
            at + timedelta(days=2, hours=3),
            1,
            **{c.WAREHOUSE_ID: "WH-ATL"},
        ),
        # another order filling the warehouse's backlog after the prediction time
        capture("SO-2", at + timedelta(minutes=30), "PO-2"),
        span(
            "SO-2",
            "allocate inventory",
            "allocation",
            "erp-east",
            at + timedelta(minutes=40),
            1,
            **{c.WAREHOUSE_ID: "WH-ATL"},
        ),
    ]
    write_to_store(store, later)
    after = delay_features(store, at)
    pd.testing.assert_frame_equal(before, after)
    # the same spans do count once the prediction time has passed them
    moved = delay_features(store, at + timedelta(days=3))
    assert (
        moved.loc[0, "exc_stockout"] == 1
        and moved.loc[0, "warehouse"] == "WH-ATL"
        and moved.loc[0, "touches"] == 1
    )


def test_a_later_order_of_the_customer_is_no_duplicate_candidate_for_an_earlier_one(store: Store) -> None:
    write_to_store(
        store, [capture("SO-10", T0, "PO-777"), capture("SO-11", T0 + timedelta(hours=2), "po-777")]
    )
    lines = order_lines(store, T0 - timedelta(days=1), T0 + timedelta(days=1))
    matched = dp.match(lines, lines, 72)
    assert matched.loc["SO-11", "candidate"] == "SO-10"
    assert matched.loc["SO-10", "candidate"] == "", "SO-11 was not known when SO-10 arrived"
    assert matched.loc["SO-11", "same_lines"] == 1 and matched.loc["SO-11", "po_equal"] == 1


def test_the_reason_code_recorded_at_resolution_is_never_an_input(store: Store) -> None:
    opened = span(
        "SO-20",
        "post invoice",
        "invoice",
        "finance-cloud",
        T0,
        1,
        **{
            c.EXCEPTION_TYPE: "invoice",
            c.EXCEPTION_OUTCOME: "opened",
            c.EXCEPTION_MESSAGE: "tax jurisdiction missing for ship-to",
            c.ERROR_TYPE: "tax_jurisdiction_missing",
        },
    )
    resolved = span(
        "SO-20",
        "repost invoice",
        "invoice",
        "finance-cloud",
        T0 + timedelta(hours=5),
        1,
        **{
            c.EXCEPTION_TYPE: "invoice",
            c.EXCEPTION_OUTCOME: "resolved",
            c.EXCEPTION_ROOT_CAUSE: "master_data",
        },
    )
    write_to_store(store, [opened])
    before = exception_spans(store, T0 - timedelta(days=1), T0 + timedelta(days=1), T0 + timedelta(days=2))
    write_to_store(store, [resolved])
    known_later = exception_spans(
        store, T0 - timedelta(days=1), T0 + timedelta(days=1), T0 + timedelta(days=2)
    )
    not_yet = exception_spans(store, T0 - timedelta(days=1), T0 + timedelta(days=1), T0 + timedelta(hours=1))
    assert list(before["recorded_cause"]) == [""] and list(not_yet["recorded_cause"]) == [""]
    assert list(known_later["recorded_cause"]) == ["master_data"]  # a label, for training only
    pd.testing.assert_frame_equal(ca.inputs(before), ca.inputs(known_later))
    assert not {"recorded_cause", "resolved_ms"} & set(ca.inputs(known_later).columns)


@pytest.mark.parametrize("model", ["delay", "duplicates", "allocation"])
def test_no_feature_carries_the_simulators_ground_truth(model: str) -> None:
    forbidden = (
        "duplicate_of",
        "root_cause",
        "recorded_cause",
        "spike",
        "truth",
        "causes",
        "stockout_odds",
        "label",
    )
    from ai import allocation as al

    columns = {
        "delay": [*dl.CATEGORICAL, "elapsed_frac", "backlog"],
        "duplicates": dp.PAIR_FEATURES + dp.CATEGORICAL,
        "allocation": al.CATEGORICAL,
    }[model]
    assert not [col for col in columns if any(word in col for word in forbidden)]
