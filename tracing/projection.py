"""The hop projection for spans held in Python: what a span says about its hop.

The projection is defined once, as the MATERIALIZED columns of ``order_spans``
(``storage/migrations/0060_order_spans.sql``), which the KPI jobs, SLAs, exceptions and alert
signals read. The timeline assembles spans in Python (also spans built by hand, without a store), so
this module mirrors those columns; ``tests/tracing/test_projection.py`` runs both over the same
hostile spans and fails when they disagree.

* **stage**: ``order.stage`` (a span with a stage is a hop);
* **system**: ``system.instance`` on the span, else on the resource, else ``service.name``;
* **system kind**: ``system.kind`` on the span, else on the resource;
* **manual touch**: ``order.manual_touch`` is true (``true``, ``1`` or ``yes``, ASCII letters in any
  case, ASCII white space around it ignored) or the span names a person (``enduser.id``);
* **exception outcome**: ``order.exception.outcome``; ``opened`` when a span names an exception type
  without an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tracing import conventions as c

MANUAL_TOUCH_TRUE: Final = frozenset({"true", "1", "yes"})
ASCII_SPACE: Final = " \t\n\r\x0b\x0c"  # what the SQL column trims (trimBoth with these characters)


def stage(attributes: Mapping[str, str]) -> str:
    return attributes.get(c.STAGE, "")


def system(attributes: Mapping[str, str], resource: Mapping[str, str], service: str) -> str:
    return attributes.get(c.SYSTEM_INSTANCE) or resource.get(c.SYSTEM_INSTANCE) or service


def system_kind(attributes: Mapping[str, str], resource: Mapping[str, str]) -> str:
    return attributes.get(c.SYSTEM_KIND) or resource.get(c.SYSTEM_KIND, "")


def manual_touch(attributes: Mapping[str, str]) -> bool:
    flag = attributes.get(c.MANUAL_TOUCH, "").strip(ASCII_SPACE).lower()
    return flag in MANUAL_TOUCH_TRUE or bool(attributes.get(c.ENDUSER_ID))


def exception_outcome(attributes: Mapping[str, str]) -> str:
    outcome = attributes.get(c.EXCEPTION_OUTCOME, "")
    if attributes.get(c.EXCEPTION_TYPE) and not outcome:
        return c.ExceptionOutcome.OPENED.value
    return outcome
