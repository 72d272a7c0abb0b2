"""The dashboard's view of the KPI engine and alerts: thin calls into ``kpis`` and ``alerts``.

Handlers call these functions (never SQL); each returns the services' pydantic models.
"""

from __future__ import annotations

from typing import Any

from storage import Store
from web.charts import SlaMark


def order_overview(store: Store) -> dict[str, Any] | None:
    """Recent and at-risk orders for the search page (None until the KPI engine is available)."""
    return None


def sla_marks(store: Store, order_id: str) -> list[SlaMark]:
    """SLA due times of one order, for the Gantt."""
    return []


def order_exceptions(store: Store, order_id: str) -> list[Any]:
    """Exceptions of one order from the exceptions queue."""
    return []
